"""What every reader checks of its source, and the errors they share.

The file exists and is readable (:func:`check_readable`, with a hint for a
mistyped name), it is not empty (:func:`empty_error`), it has rows
(:func:`no_rows_error`) and unique column names (:func:`raise_on_duplicates`);
only an empty cell is missing (:data:`NA_OPTIONS`). :func:`is_url` tells a URL
from a local path.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError

__all__ = ["PathLike", "NA_OPTIONS", "check_readable", "empty_error", "no_rows_error",
           "check_unique_columns", "raise_on_duplicates", "is_url"]

PathLike = str | os.PathLike[str]

#: pandas' options for "only an empty cell is missing": "NaN", "inf", "-", "n/a" stay text.
NA_OPTIONS: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}


def check_readable(path: Path) -> int:
    """Raise InputError unless ``path`` is an existing, readable file; return its size."""
    try:
        status = path.stat()
        if stat.S_ISDIR(status.st_mode):
            raise InputError(
                f"{path} is a directory, not a data file", fix="pass the path of a file inside it"
            )
        with path.open("rb") as handle:
            handle.read(1)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if path.is_symlink():
            raise InputError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist",
                fix="point the link at the data file, or pass the file's own path",
            ) from exc
        raise InputError(f"file not found: {path}", fix=_not_found_fix(path)) from exc
    except PermissionError as exc:
        raise InputError(
            f"cannot read {path}: permission denied",
            fix="check the file permissions (e.g. chmod u+r) or copy it somewhere readable",
        ) from exc
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror or exc}", fix="check the file and the disk"
        ) from exc
    return status.st_size


def _not_found_fix(path: Path) -> str:
    parent = path.parent
    if not parent.is_dir():
        return f"check the path; the folder {parent} does not exist either"
    try:
        siblings = os.listdir(parent)
    except OSError:
        return "check the path"
    siblings = [name for name in siblings if name != path.name]
    close = difflib.get_close_matches(path.name, siblings, n=1, cutoff=0.6)
    if close:
        return f"check the path; did you mean {parent / close[0]}?"
    return f"check the path (relative paths start at {Path.cwd()})"


def empty_error(where: object) -> InputError:
    return InputError(f"{where} is empty", fix="check that you picked the right file")


def no_rows_error(where: object, what: str = "has no data rows") -> InputError:
    return InputError(f"{where} {what}", fix="check that you picked the right file (or sheet)")


def check_unique_columns(columns: pd.Index, where: object) -> None:
    raise_on_duplicates([str(c) for c in columns], where)


def raise_on_duplicates(names: list[str], where: object) -> None:
    """Raise InputError naming the duplicated names (empty names are ignored)."""
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        if name != "":
            positions.setdefault(name, []).append(number)
    duplicated = {name: pos for name, pos in positions.items() if len(pos) > 1}
    if duplicated:
        listed = ", ".join(
            f"{name!r} (columns {', '.join(map(str, pos))})" for name, pos in duplicated.items()
        )
        raise InputError(
            f"{where} has duplicate column names: {listed}",
            fix="rename the columns so that each name is unique",
        )

def is_url(source: PathLike) -> bool:
    """Whether ``source`` is a URL with a scheme (``hdfs://``, ``s3a://``, ``file://``, ...)."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(source)) is not None

