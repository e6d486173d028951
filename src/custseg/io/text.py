"""Looking at a text file: encoding, byte-order mark, binary content, delimiter.

:func:`sniff_text` is the one place the readers (and ``assign``'s and ``rfm``'s
fast paths) look at the start of a delimited text file: :func:`resolve_encoding`
picks the codec (a BOM, else UTF-8, else cp1252, else Latin-1) and checks that
the whole file decodes, naming the line and column where it does not; a file
that looks binary is refused with a guess at what it is; :func:`sniff_delimiter`
picks one of ``, ; TAB |`` or runs of whitespace. :func:`read_text` reads a
small text file such as ``spec.toml``.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

from ..errors import InputError
from .sources import PathLike, check_readable, empty_error

__all__ = ["SAMPLE_BYTES", "DELIMITERS", "WHITESPACE_SEP", "SQLITE_MAGIC", "DUCKDB_MAGIC", "OLE_MAGIC",
           "read_text", "read_head_bytes", "resolve_encoding", "decode_text", "sniff_delimiter",
           "delimiter_name", "sniff_text"]

# How much of a text file is decoded to sniff its delimiter.
SAMPLE_BYTES = 64 * 1024
# How much of a text file is searched for NUL bytes.
_BINARY_PROBE_BYTES = 8 * 1024
# Chunk size when streaming a whole file (decoding checks, hashing).
_CHUNK_BYTES = 1024 * 1024

DELIMITERS = ",;\t|"
WHITESPACE_SEP = r"\s+"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

SQLITE_MAGIC = b"SQLite format 3\x00"
DUCKDB_MAGIC = b"DUCK"  # at byte offset 8
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other old Office files)

# What a binary file probably is, to make the "looks binary" message useful.
_MAGIC_HINTS = (
    (b"PAR1", "a Parquet file; rename it to .parquet"),
    (b"PK\x03\x04", "a zip archive such as an Excel workbook; rename it to .xlsx"),
    (OLE_MAGIC, "an old Excel (.xls) workbook; rename it to .xls"),
    (SQLITE_MAGIC, "an SQLite database; rename it to .sqlite and pass --sql"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first (gunzip)"),
)


def read_text(path: PathLike, *, encoding: str | None = None) -> str:
    """Read a small text file such as ``spec.toml`` (UTF-8, a BOM is dropped).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    encoding : str, optional
        Its encoding; default UTF-8 (what TOML requires).

    Returns
    -------
    str
        The whole text, with universal newlines (``\r\n`` becomes ``\n``).

    Raises
    ------
    InputError
        The file is missing, a directory, unreadable or not valid in ``encoding``.
    """
    path = Path(path).expanduser()
    check_readable(path)
    codec = encoding or "utf-8-sig"
    try:
        error = _first_decode_error(path, codec)
    except LookupError as exc:
        raise InputError(f"unknown encoding {encoding!r} for {path}", fix="pass utf-8 or latin-1") from exc
    if error is not None:
        raise InputError(
            f"{path} is not valid {encoding or 'UTF-8'} text at {_describe_position(error, codec)}",
            fix="re-save it as UTF-8",
        )
    with path.open(encoding=codec, newline=None) as handle:
        return handle.read()


# ------------------------------------------------------------------------ encoding


def read_head_bytes(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _is_wide(encoding: str) -> bool:
    """True for encodings whose text contains NUL bytes (UTF-16, UTF-32)."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _bom_encoding(head: bytes) -> str | None:
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _first_decode_error(path: Path, encoding: str) -> tuple[int, int, int] | None:
    """Decode the whole file in chunks.

    Returns (byte offset from 0, line from 1, byte column from 1) of the first
    undecodable byte, or None if the whole file decodes.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0  # bytes fed to the decoder so far
    newlines = 0  # b"\n" seen before ``offset``
    line_start = 0  # offset of the byte after the last b"\n" before ``offset``
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK_BYTES)
            final = not chunk
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                base = offset - len(pending)  # absolute offset of data[0]
                start = base + exc.start
                line = newlines - pending.count(b"\n") + data[: exc.start].count(b"\n") + 1
                last = data.rfind(b"\n", 0, exc.start)
                column = start - (base + last + 1 if last >= 0 else line_start) + 1
                return start, line, column
            if final:
                return None
            last = chunk.rfind(b"\n")
            if last >= 0:
                line_start = offset + last + 1
            offset += len(chunk)
            newlines += chunk.count(b"\n")


def _describe_position(error: tuple[int, int, int], encoding: str) -> str:
    offset, line, column = error
    if _is_wide(encoding):  # counting b"\n" does not count lines of UTF-16 text
        return f"byte offset {offset}"
    return f"line {line}, column {column} (byte offset {offset})"


def _binary_error(path: Path, head: bytes) -> InputError:
    hint = next((text for magic, text in _MAGIC_HINTS if head.startswith(magic)), None)
    if hint is None and head[8:12] == DUCKDB_MAGIC:
        hint = "a DuckDB database; rename it to .duckdb and pass --sql"
    if hint is not None:
        fix = f"it looks like {hint}"
    else:
        fix = (
            "check that it is the data file you meant; if it is UTF-16 text without a "
            "byte-order mark, pass --encoding utf-16-le"
        )
    return InputError(f"{path} looks binary, not text", fix=fix)


def resolve_encoding(path: Path, forced: str | None) -> str:
    """Return the codec to read ``path`` with, checking that the whole file decodes."""
    head = read_head_bytes(path, SAMPLE_BYTES)
    if forced is not None:
        try:
            encoding = codecs.lookup(forced).name
        except LookupError as exc:
            raise InputError(
                f"unknown encoding {forced!r} for {path}",
                fix="pass --encoding utf-8, latin-1, cp1252 or utf-16",
            ) from exc
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"  # do not glue the BOM to the first column name
        if not _is_wide(encoding) and b"\x00" in head[:_BINARY_PROBE_BYTES]:
            raise _binary_error(path, head)
        error = _first_decode_error(path, encoding)
        if error is not None:
            first, second = [e for e in ("latin-1", "cp1252", "utf-8") if e != encoding][:2]
            raise InputError(
                f"cannot decode {path} as {forced} at {_describe_position(error, encoding)}",
                fix=f"pass --encoding {first} (or {second}), or omit --encoding to detect it",
            )
        return encoding

    encoding = _bom_encoding(head)
    if encoding is not None:
        error = _first_decode_error(path, encoding)
        if error is not None:
            raise InputError(
                f"{path} starts with a {encoding} byte-order mark but is not valid {encoding} "
                f"at {_describe_position(error, encoding)}",
                fix="re-save it as UTF-8, or pass --encoding latin-1",
            )
        return encoding
    if b"\x00" in head[:_BINARY_PROBE_BYTES] or head.startswith(b"\x1f\x8b"):
        raise _binary_error(path, head)
    for candidate in ("utf-8", "cp1252"):
        if _first_decode_error(path, candidate) is None:
            return candidate
    return "latin-1"  # decodes any byte sequence


def decode_text(path: Path, encoding: str, limit: int | None = None) -> tuple[str, bool]:
    """Decode the first ``limit`` bytes (all if None); also say whether that was all."""
    with path.open("rb") as handle:
        raw = handle.read() if limit is None else handle.read(limit)
        complete = limit is None or not handle.read(1)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    return decoder.decode(raw, final=complete), complete


# ----------------------------------------------------------------------- delimiter


def sniff_delimiter(sample: str, complete: bool) -> str:
    """Choose the separator: one of ``, ; TAB |``, or ``\\s+`` for padded columns.

    ``csv.Sniffer`` (restricted to the four delimiters) goes first; its answer is
    kept if the header line contains it. Otherwise the delimiter most frequent in
    the header line wins; failing that, lines that split on runs of whitespace into
    the same number (>= 2) of fields, with padding (leading blanks or a run of two
    or more) somewhere, mean a whitespace-padded file; else comma (one column: a
    delimiter that is not in the header is never chosen).
    """
    if not complete and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # drop the cut-off last line
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ","
    header = lines[0]
    try:
        sniffed: str | None = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and sniffed in header:
        return sniffed
    counts = {delimiter: header.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])  # ties: first in DELIMITERS
    if counts[best] > 0:
        return best
    head = lines[:50]
    widths = {len(line.split()) for line in head}
    padded = any(line[:1].isspace() or "  " in line for line in head)
    if padded and len(widths) == 1 and widths.pop() >= 2:
        return WHITESPACE_SEP
    # a header without any delimiter is one column, whatever csv.Sniffer made of the rows
    return ","


def delimiter_name(sep: str) -> str:
    if sep == WHITESPACE_SEP:
        return "whitespace"
    return f"{_DELIMITER_NAMES.get(sep, 'delimiter')} {sep!r}"


def sniff_text(path: Path, encoding: str | None = None) -> tuple[str, str, str]:
    """Encoding, delimiter and a decoded sample of a delimited text file.

    The one place the readers (and ``assign``'s and ``rfm``'s fast paths) look at a
    text file's start: an empty file is an error here, so they all say the same.
    """
    _check_first_line(path)
    codec = resolve_encoding(path, encoding)
    sample, complete = decode_text(path, codec, SAMPLE_BYTES)
    if complete and not sample.strip():
        raise empty_error(path)
    return codec, sniff_delimiter(sample, complete), sample


#: the longest first line (the header) a table may have: 1,000 columns of 1,000 characters
MAX_LINE_BYTES = 1 << 20


def _check_first_line(path: Path) -> None:
    """A file whose first line runs past :data:`MAX_LINE_BYTES` is refused at once.

    Such a file (one record per file, a minified JSON saved as .csv, a binary dump)
    is not a table, and parsing it as one takes minutes.
    """
    with path.open("rb") as handle:
        head = handle.read(MAX_LINE_BYTES + 1)
    if len(head) > MAX_LINE_BYTES and b"\n" not in head and b"\r" not in head:
        raise InputError(f"{path} has no line break in its first {MAX_LINE_BYTES // 2**20} MiB: it "
                         "is not a table with one customer per line",
                         fix="check the file (a JSON document or a binary file saved as .csv?), "
                             "or export the table again")
