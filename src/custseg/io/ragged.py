"""Rows with more or fewer fields than the header: finding the first one, and saying so.

pyarrow's CSV parser refuses such a row, without telling on which line of the
file it is; pandas refuses a row with more fields, with a line number that does
not count the newlines inside quoted fields, and fills a row with fewer fields
with empty cells, silently. So when a reader meets or suspects a ragged row,
:func:`find_ragged_row` reads the file once more, with Python's ``csv`` module
(a quoted field holding the delimiter or a newline is one field), and returns
the first record whose field count differs from the header's, with the
physical line where it starts, from 1, as an editor numbers lines.
:func:`ragged_row_error` words the one-line error.

Blank lines (and lines of only spaces and tabs) are skipped, as pandas skips
them. :class:`RowLengthCheck` is the cheap test the pandas readers run when
the last column has a missing value (which a short row always leaves):
pyarrow's parser counts the fields of the rows read so far, and only a row it
refuses costs the slower exact search.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .text import DELIMITERS, WHITESPACE_SEP, delimiter_name

__all__ = ["RaggedRow", "ragged_fix", "ragged_row_error", "find_ragged_row", "RaggedRowHandler",
           "RowLengthCheck", "bytes_parse_as_ascii"]

_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class RaggedRow:
    """A record whose field count differs from the header's."""

    line: int  # the physical line where it starts, from 1
    fields: int
    expected: int  # the header's field count


def ragged_fix(sep: str, *, fewer: bool = False) -> str:
    """The fix for a row with more (or ``fewer``) fields than the header, in a file delimited by ``sep``."""
    if sep == WHITESPACE_SEP:
        if fewer:
            return ("fill in the missing values (a whitespace-aligned file cannot hold an empty "
                    "value; save it as CSV with empty fields instead)")
        return 'quote values that contain spaces (e.g. "New York")'
    if fewer:
        example = "" if sep == "\t" else f', e.g. "c1{sep}{sep}5"'
        return (f"add the missing fields (an empty field still needs its {delimiter_name(sep)}"
                f"{example}), or rejoin a row that was broken across lines")
    example = "" if sep == "\t" else f' (e.g. "Smith{sep} John")'
    return f"quote fields that contain the {delimiter_name(sep)}{example}, or remove the extra delimiter"


def ragged_row_error(path: object, row: RaggedRow, sep: str) -> InputError:
    """The one-line error for ``row`` of ``path``."""
    return InputError(f"line {row.line} of {path} has {row.fields} fields but the header has {row.expected}",
                      fix=ragged_fix(sep, fewer=row.fields < row.expected))


def find_ragged_row(path: Path, encoding: str, sep: str) -> RaggedRow | None:
    """The first record of ``path`` with more or fewer fields than the header, or None.

    The header is the first record that is not blank. ``sep`` is one of
    :data:`~custseg.io.text.DELIMITERS` or ``\\s+`` (runs of spaces and tabs).
    None also when Python's ``csv`` module cannot parse the file (a field
    beyond its size limit), or when the record is a quote left open to the end
    of the file: the caller's parser then words the problem, or keeps what it read.
    """
    with path.open(encoding=encoding, newline="") as handle:
        try:
            row = _first_ragged(_records(handle, sep))
            if row is not None and next(handle, None) is None and _open_quote(path, encoding, sep, row):
                return None
        except csv.Error:
            return None
    return row


def _records(lines: Iterable[str], sep: str, *, strict: bool = False) -> Any:
    """A ``csv.reader`` of ``lines`` as pandas splits them (runs of blanks for ``\\s+``)."""
    if sep == WHITESPACE_SEP:
        return csv.reader(_squeezed(lines), delimiter=" ", strict=strict)
    return csv.reader(lines, delimiter=sep, strict=strict)


def _open_quote(path: Path, encoding: str, sep: str, row: RaggedRow) -> bool:
    """Whether ``row``, the last record of ``path``, is a quoted field left open to the end."""
    with path.open(encoding=encoding, newline="") as handle:
        try:
            for _ in _records(itertools.islice(handle, row.line - 1, None), sep, strict=True):
                pass
        except csv.Error as exc:
            return "unexpected end of data" in str(exc)
    return False


def _first_ragged(records: Any) -> RaggedRow | None:
    expected = None
    start = 1  # the physical line the next record starts on
    for record in records:
        if not _blank(record):
            if expected is None:
                expected = len(record)
            elif len(record) != expected:
                return RaggedRow(start, len(record), expected)
        start = records.line_num + 1
    return None


def _blank(record: list[str]) -> bool:
    """An empty line, or one of only spaces and tabs (not a quoted empty field, ``""``)."""
    return not record or (len(record) == 1 and record[0] != "" and not record[0].strip())


def _squeezed(lines: Iterable[str]) -> Iterator[str]:
    """Each line with its leading and trailing blanks dropped and runs of blanks made one space."""
    for line in lines:
        body = line.rstrip("\r\n")
        yield _SPACES.sub(" ", body.strip(" \t")) + line[len(body):]


def bytes_parse_as_ascii(encoding: str) -> bool:
    """Whether a CSV parser may split text in ``encoding`` without decoding it.

    True for UTF-8 and for single-byte encodings that keep ASCII as it is
    (Latin-1, cp1252, ...): the delimiter, quote and line ends are then the
    same bytes as in ASCII, and no other character contains those bytes.
    """
    import codecs

    name = codecs.lookup(encoding).name
    if name in ("utf-8", "utf-8-sig"):
        return True
    decoder = codecs.getincrementaldecoder(name)(errors="replace")
    try:
        return (bytes(range(128)).decode(name) == bytes(range(128)).decode("ascii")
                and all(len(decoder.decode(bytes([b]))) == 1 for b in range(128, 256)))
    except (UnicodeDecodeError, LookupError):
        return False


class RaggedRowHandler:
    """An ``invalid_row_handler`` for pyarrow's CSV parser that remembers a ragged row.

    A row with another field count than the header stops the parse, and
    :attr:`seen` says one was met. A line of only spaces and tabs (which pandas
    skips) is skipped with ``skip_blank``, else it stops the parse too (without
    being counted as ragged).
    """

    def __init__(self, *, skip_blank: bool = False):
        self.skip_blank = skip_blank
        self.seen = False

    def __call__(self, row: Any) -> str:
        if row.text.strip():
            self.seen = True
            return "error"
        return "skip" if self.skip_blank else "error"


class RowLengthCheck:
    """Checks, as far as asked, that the rows of a delimited file have the header's field count.

    For the pandas readers, which fill a short row with empty cells: they call
    :meth:`through` with the number of data rows read so far when the last
    column has a missing value. The file is parsed once at most, by pyarrow
    (without converting any value), and only as far as asked; a row it refuses
    is looked up with :func:`find_ragged_row`.
    """

    def __init__(self, path: Path, encoding: str, sep: str):
        self.path, self.encoding, self.sep = path, encoding, sep
        self._rows = -1  # rows parsed so far, less the header
        self._batches: Any = None
        self._handler = RaggedRowHandler(skip_blank=True)
        self._done = False

    def through(self, rows: int | None = None) -> None:
        """Raise the ragged-row error if one of the first ``rows`` data rows (all if None) is ragged."""
        if self._done or (rows is not None and rows <= self._rows):
            return
        if self.sep not in DELIMITERS:
            self._search()
            return
        import pyarrow as pa

        try:
            if self._batches is None:
                self._batches = self._open()
            while rows is None or self._rows < rows:
                self._rows += self._batches.read_next_batch().num_rows
        except StopIteration:
            self._done = True
        except (pa.ArrowException, ValueError, OSError):
            self._search()  # a ragged row, or a file pyarrow parses otherwise: the exact search decides

    def _open(self) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        # the bytes as they are when the encoding allows (pyarrow's "utf8" does not transcode),
        # and one column kept as binary: nothing is decoded or validated
        encoding = "utf8" if bytes_parse_as_ascii(self.encoding) else self.encoding
        return pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(encoding=encoding, use_threads=False,
                                            autogenerate_column_names=True),
            parse_options=pa_csv.ParseOptions(delimiter=self.sep, newlines_in_values=True,
                                              invalid_row_handler=self._handler),
            convert_options=pa_csv.ConvertOptions(include_columns=["f0"], column_types={"f0": pa.binary()}))

    def _search(self) -> None:
        self._done = True
        row = find_ragged_row(self.path, self.encoding, self.sep)
        if row is not None:
            raise ragged_row_error(self.path, row, self.sep)
