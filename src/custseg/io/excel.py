"""Reading one sheet of an Excel workbook (``.xlsx``, ``.xlsm``, ``.xls``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .sources import NA_OPTIONS, no_rows_error, raise_on_duplicates
from .text import OLE_MAGIC, read_head_bytes

__all__ = ["read_excel"]


def read_excel(path: Path, *, sheet: str | int | None = None) -> pd.DataFrame:
    """Read one sheet of an Excel workbook (``.xlsx``, ``.xlsm``, ``.xls``)."""
    head = read_head_bytes(path, 8)
    try:
        book = pd.ExcelFile(path)
    except ImportError as exc:
        raise InputError(
            f"reading {path} needs an optional package: {str(exc).splitlines()[0]}",
            fix="pip install xlrd (for .xls), or save the workbook as .xlsx or .csv",
        ) from exc
    except Exception as exc:  # a corrupt workbook raises whatever the parser trips on
        kind = "old-style .xls" if head.startswith(OLE_MAGIC) else path.suffix
        raise InputError(
            f"{path} is not a readable Excel file (truncated, corrupted, "
            f"password-protected, or not really {kind}?)",
            fix="open it in Excel and save it again as .xlsx, or export the sheet as .csv",
        ) from exc
    with book:
        names = list(book.sheet_names)
        chosen = names[0] if sheet is None else sheet
        if isinstance(chosen, str) and chosen not in names and chosen.isdigit():
            chosen = int(chosen)  # "--sheet 1" from the command line
        if isinstance(chosen, int):
            if not 0 <= chosen < len(names):
                raise InputError(
                    f"{path} has no sheet number {chosen} (it has {len(names)}: "
                    f"{', '.join(map(repr, names))})",
                    fix="pass --sheet with a sheet name, or a number from 0",
                )
        elif chosen not in names:
            raise InputError(
                f"{path} has no sheet named {chosen!r} (sheets: {', '.join(map(repr, names))})",
                fix="pass --sheet with one of these names",
            )
        try:
            frame = pd.read_excel(book, sheet_name=chosen, **NA_OPTIONS)
            header = pd.read_excel(book, sheet_name=chosen, header=None, nrows=1)
        except Exception as exc:  # as above: corrupt sheet XML
            raise InputError(
                f"cannot read sheet {chosen!r} of {path}: {str(exc).splitlines()[0]}",
                fix="open it in Excel and save it again, or export the sheet as .csv",
            ) from exc
    where = f"sheet {chosen!r} of {path}"  # used in messages
    if not len(frame.columns):
        raise InputError(f"{where} is empty", fix="pass --sheet to pick the sheet with the data")
    if len(header):
        raise_on_duplicates(["" if pd.isna(v) else str(v) for v in header.iloc[0]], where)
    if frame.empty:
        raise no_rows_error(where, "has a header but no data rows")
    return frame
