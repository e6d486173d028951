"""custseg: customer segmentation for marketing.

From a customer table to named, explained segments::

    import custseg
    spec = custseg.parse_spec(open("spec.toml").read())
    seg = custseg.CustomerSegmenter(spec).fit(df)
    seg.segment_names_, seg.k_reason_

Public names are imported lazily, so ``import custseg`` (and the command line's
``--version``) stays fast.
"""

from importlib import import_module

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
    "infer_spec": "spec",
    "load_model": "modelfile",
    "parse_spec": "spec",
    "read_table": "io",
    "save_model": "modelfile",
    "segment": "pipeline",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'custseg' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
