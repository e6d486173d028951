"""custseg: customer segmentation for marketing.

From a customer table to named, explained segments::

    import custseg
    spec = custseg.parse_spec(open("spec.toml").read())
    seg = custseg.CustomerSegmenter(spec).fit(df)
    seg.segment_names_, seg.k_reason_

Public names are imported lazily, so ``import custseg`` (and the command line's
``--version``) stays fast.
"""

from ._lazy import lazy_names

__version__ = "0.1.0"

_EXPORTS = {
    "ColumnSpec": "spec",
    "CustomerSegmenter": "segmenter",
    "CustsegError": "errors",
    "InputError": "errors",
    "ModelError": "errors",
    "OutputError": "errors",
    "ParameterError": "errors",
    "RunOptions": "pipeline",
    "RunResult": "pipeline",
    "SegmentModel": "model",
    "Spec": "spec",
    "SpecError": "errors",
    "ValidationError": "errors",
    "build_analysis": "analysis",
    "check": "validate",
    "infer_spec": "infer",
    "load_model": "modelfile",
    "parse_spec": "spec",
    "read_table": "io",
    "save_model": "modelfile",
    "segment": "pipeline",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
