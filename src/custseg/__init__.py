"""custseg: customer segmentation for marketing.

From a customer table to named, explained segments::

    import custseg
    spec = custseg.parse_spec(open("spec.toml").read())
    seg = custseg.CustomerSegmenter(spec).fit(df)
    seg.segment_names_, seg.k_reason_
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    CustsegError,
    InputError,
    ModelError,
    OutputError,
    ParameterError,
    SpecError,
    ValidationError,
)
from .model import SegmentModel  # noqa: E402
from .modelfile import load_model, save_model  # noqa: E402
from .pipeline import RunOptions, RunResult, segment  # noqa: E402
from .segmenter import CustomerSegmenter  # noqa: E402
from .spec import ColumnSpec, Spec, infer_spec, parse_spec  # noqa: E402
from .validate import check, validate  # noqa: E402

__all__ = [
    "__version__",
    "ColumnSpec",
    "CustomerSegmenter",
    "CustsegError",
    "InputError",
    "ModelError",
    "OutputError",
    "ParameterError",
    "RunOptions",
    "RunResult",
    "SegmentModel",
    "Spec",
    "SpecError",
    "ValidationError",
    "check",
    "infer_spec",
    "load_model",
    "parse_spec",
    "save_model",
    "segment",
    "validate",
]
