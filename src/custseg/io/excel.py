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
        notes: list[str] = []
        if sheet is None:
            chosen, found = _sheet_with_a_table(book, names, path)
            if chosen != names[0]:
                notes.append(f"read sheet {chosen!r}: the first sheet, {names[0]!r}, holds no "
                             "table (pass --sheet to choose another)")
        else:
            chosen = _named_sheet(sheet, names, path)
            found = _table_start(_raw(book, chosen, path))
        header_row = found if found is not None else 0
        try:
            frame = pd.read_excel(book, sheet_name=chosen, skiprows=header_row, **NA_OPTIONS)
            header = pd.read_excel(book, sheet_name=chosen, header=None, skiprows=header_row,
                                   nrows=1)
        except Exception as exc:  # as above: corrupt sheet XML
            raise InputError(
                f"cannot read sheet {chosen!r} of {path}: {str(exc).splitlines()[0]}",
                fix="open it in Excel and save it again, or export the sheet as .csv",
            ) from exc
    where = f"sheet {chosen!r} of {path}"  # used in messages
    if header_row:
        notes.append(f"{where}: the header is on row {header_row + 1}; the "
                     f"{'row' if header_row == 1 else f'{header_row} rows'} above it "
                     f"({'a title' if header_row == 1 else 'titles'}) left out")
    if not len(frame.columns):
        raise InputError(f"{where} is empty", fix="pass --sheet to pick the sheet with the data")
    if len(header):
        raise_on_duplicates(["" if pd.isna(v) else str(v) for v in header.iloc[0]], where)
    if frame.empty:
        raise no_rows_error(where, "has a header but no data rows")
    frame.attrs["read_notes"] = notes
    frame.attrs["sheet"] = chosen
    return frame


def _named_sheet(sheet: str | int, names: list[str], path: Path) -> str | int:
    """The sheet ``--sheet`` names (a name, or a number from 0), or an error listing them."""
    chosen = sheet
    if isinstance(chosen, str) and chosen not in names and chosen.isdigit():
        chosen = int(chosen)  # "--sheet 1" from the command line
    if isinstance(chosen, int):
        if not 0 <= chosen < len(names):
            raise InputError(
                f"{path} has no sheet number {chosen} (it has {len(names)}: "
                f"{', '.join(map(repr, names))})",
                fix="pass --sheet with a sheet name, or a number from 0",
            )
        return names[chosen]
    if chosen not in names:
        raise InputError(
            f"{path} has no sheet named {chosen!r} (sheets: {', '.join(map(repr, names))})",
            fix="pass --sheet with one of these names",
        )
    return chosen


#: rows looked at for the header (title rows above it, a cover page)
HEADER_SEARCH_ROWS = 30


def _raw(book: pd.ExcelFile, name: str | int, path: Path) -> pd.DataFrame:
    try:
        return pd.read_excel(book, sheet_name=name, header=None, nrows=HEADER_SEARCH_ROWS + 2)
    except Exception as exc:  # corrupt sheet XML
        raise InputError(f"cannot read sheet {name!r} of {path}: {str(exc).splitlines()[0]}",
                         fix="open it in Excel and save it again, or export the sheet as .csv"
                         ) from exc


def _table_start(raw: pd.DataFrame) -> int | None:
    """The row of a sheet's header, or None when the sheet holds no table.

    The header is the first row of at least two non-empty cells, all text and
    distinct, that spans at least half of the widest row below it, with a row
    under it; rows above it are titles (a report name, an export date).
    """
    filled = raw.notna().sum(axis=1).to_numpy()
    for i in range(min(len(raw) - 1, HEADER_SEARCH_ROWS)):
        cells = raw.iloc[i].dropna()
        if len(cells) < 2 or not all(isinstance(v, str) for v in cells):
            continue
        if len(set(cells)) != len(cells):
            continue
        below = filled[i + 1:]
        if below.size and below.max() >= 1 and len(cells) * 2 >= below.max():
            return i
    return None


def _sheet_with_a_table(book: pd.ExcelFile, names: list[str], path: Path
                        ) -> tuple[str, int | None]:
    """The first sheet holding a table and its header row (the first sheet when none does)."""
    for name in names:
        start = _table_start(_raw(book, name, path))
        if start is not None:
            return name, start
    return names[0], None
