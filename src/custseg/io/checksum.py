"""SHA-256 digests of input files and folder data sets, for the run's manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .parquet import data_files
from .sources import PathLike

__all__ = ["file_sha256", "source_sha256"]


def file_sha256(path: PathLike) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def source_sha256(path: PathLike) -> str:
    """The SHA-256 of a file, or of a folder's files (a partitioned Parquet data set).

    For a folder, its :func:`data_files` are taken in sorted order of their
    relative paths; the digest covers each path and its contents' digest, so
    renaming a part changes it too.
    """
    p = Path(path)
    if not p.is_dir():
        return file_sha256(p)
    digest = hashlib.sha256()
    for f in data_files(p):
        digest.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        digest.update(file_sha256(f).encode("ascii") + b"\n")
    return digest.hexdigest()
