"""model.json: write and read the portable segment model.

The format is described by ``custseg/schemas/model.schema.json`` (JSON Schema
2020-12), which loading enforces, and in ``docs/model-format.md``. The file is
plain JSON (never pickle): ``format_version``, the spec, the fitted
feature space, centroids, names, per-segment distance quantiles, training summary
and reference distributions, and a ``checksum`` (sha256 of the canonical JSON of
everything else). When the environment variable ``CUSTSEG_MODEL_KEY`` is set the
model is also signed (``signature``: HMAC-SHA256 with that key), and loading then
refuses a model whose signature is missing or does not match.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from importlib import resources
from pathlib import Path

from .errors import ModelError
from .model import FORMAT_VERSION, READABLE_VERSIONS, SegmentModel

__all__ = ["model_to_json", "model_from_json", "load_model", "save_model", "KEY_ENV"]

KEY_ENV = "CUSTSEG_MODEL_KEY"
_REQUIRED = ("format_version", "spec", "features", "centers", "names", "distance_quantiles",
             "checksum")


def _canonical(d: dict) -> bytes:
    body = {k: v for k, v in d.items() if k not in ("checksum", "signature")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV)
    return key.encode("utf-8") if key else None


def model_to_json(model: SegmentModel) -> str:
    """The model as JSON text, with checksum (and signature when a key is set)."""
    d = model.to_dict()
    canon = _canonical(d)
    d["checksum"] = "sha256:" + hashlib.sha256(canon).hexdigest()
    key = _key()
    if key:
        d["signature"] = "hmac-sha256:" + hmac.new(key, canon, hashlib.sha256).hexdigest()
    return json.dumps(d, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def model_from_json(text: str, source: str = "model.json") -> SegmentModel:
    """Parse and verify model JSON text; never executes anything from it."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{source} is not valid JSON (truncated or corrupted?): {exc.msg} "
                         f"(line {exc.lineno}, column {exc.colno})",
                         fix="re-create it with custseg run") from None
    if not isinstance(d, dict):
        raise ModelError(f"{source} is not a custseg model (expected a JSON object)")
    version = d.get("format_version")
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise ModelError(f"{source} has format version {version}, newer than this custseg "
                         f"understands ({FORMAT_VERSION})", fix="upgrade custseg")
    missing = [k for k in _REQUIRED if k not in d]
    if missing:
        raise ModelError(f"{source} is not a complete custseg model: missing "
                         f"{', '.join(missing)}", fix="re-create it with custseg run")
    if version not in READABLE_VERSIONS:
        raise ModelError(f"{source} has unknown format version {version!r}")
    _check_schema(d, source)
    canon = _canonical(d)
    expected = "sha256:" + hashlib.sha256(canon).hexdigest()
    if not hmac.compare_digest(str(d["checksum"]), expected):
        raise ModelError(f"{source} failed its checksum: the file was changed or corrupted",
                         fix="re-create it with custseg run")
    key = _key()
    if key:
        sig = d.get("signature")
        want = "hmac-sha256:" + hmac.new(key, canon, hashlib.sha256).hexdigest()
        if not isinstance(sig, str) or not hmac.compare_digest(sig, want):
            raise ModelError(f"{source} is not signed with the key in {KEY_ENV}: refusing to "
                             "load it", fix=f"use a model created with the same {KEY_ENV}")
    try:
        return SegmentModel.from_dict(d)
    except ModelError:
        raise
    except Exception as exc:  # malformed contents behind a valid checksum
        raise ModelError(f"{source} has malformed contents ({type(exc).__name__}: {exc})",
                         fix="re-create it with custseg run") from None


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = json.loads(resources.files("custseg.schemas").joinpath("model.schema.json")
                        .read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _check_schema(d: dict, source: str) -> None:
    error = next(iter(sorted(_validator().iter_errors(d), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        raise ModelError(f"{source} does not match the model schema at {where}: {message}",
                         fix="re-create it with custseg run")
    k = len(d["centers"])
    width = len(d["features"]["feature_names"])
    if (len(d["names"]) != k or len(d["distance_quantiles"]) != k
            or any(len(row) != width for row in d["centers"])
            or len(d["features"]["mean"]) != width or len(d["features"]["scale"]) != width):
        raise ModelError(f"{source} is inconsistent: centers, names, distance quantiles and "
                         "features disagree in size", fix="re-create it with custseg run")


def load_model(path: str | os.PathLike) -> SegmentModel:
    """Read and verify a model.json file (or the model.json of a run directory)."""
    p = Path(path)
    if p.is_dir():
        if not (p / "model.json").exists():
            raise ModelError(f"{str(p)!r} is not a custseg run directory (it has no model.json)",
                             fix="pass the --out directory of custseg run, or a model.json")
        p = p / "model.json"
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file {str(p)!r} does not exist",
                         fix="pass a model.json or a run directory") from None
    except OSError as exc:
        raise ModelError(f"cannot read model file {str(p)!r}: {exc.strerror or exc}",
                         fix="check the path and its permissions") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM from an editor is harmless
    except UnicodeDecodeError as exc:
        raise ModelError(f"{p} is not a custseg model: it is not UTF-8 text (byte "
                         f"0x{data[exc.start]:02x} at offset {exc.start})",
                         fix="pass the model.json written by custseg run") from None
    return model_from_json(text, source=str(p))


def save_model(model: SegmentModel, path: str | os.PathLike) -> None:
    Path(path).write_text(model_to_json(model), encoding="utf-8")
