"""Reading data files and writing outputs atomically: the file-system edge.

Everything that touches files lives here, so the core modules stay pure.

Reading
    :func:`read_table` dispatches on the file suffix through one registry,
    :data:`~custseg.io.readers.FORMATS` (:data:`READERS`: suffix -> reader).
    Text files get their encoding and delimiter detected; only truly empty
    cells become missing (``"NaN"``, ``"inf"``, ``"-"`` and ``"n/a"`` stay
    text for the validator to report). :func:`iter_table` and
    :func:`read_head` read in chunks. :func:`read_text` reads small text files
    such as ``spec.toml``. Every failure a user can fix raises
    :class:`~custseg.errors.InputError` with a one-line message: the problem,
    the file, and the fix.

Writing
    :func:`atomic_output_dir` builds a run directory under a hidden temporary
    name and renames it into place only when the run completes, so a killed or
    failed run never leaves a half-written directory behind and an old run is
    replaced only by a complete new one (:func:`check_output_dir` runs its
    checks early, before a long computation). :func:`atomic_file` and
    :func:`atomic_write_file` do the same for single files; :func:`write_csv`,
    :func:`write_parquet` and :func:`write_json` use them. Failures raise
    :class:`~custseg.errors.OutputError`.

CSV exports pass through :func:`neutralise_formulas` once, at write time, so a
cell such as ``=HYPERLINK(...)`` is not run as a formula by a spreadsheet.

Modules, one job each
    ``readers``: the registry of formats, ``read_table``, ``iter_table``,
    ``read_head``. ``sources``: the checks and errors every reader shares.
    ``text``: encodings, BOMs, binary content, delimiter sniffing.
    ``csv_reader``: delimited text with pyarrow or pandas. ``ragged``: rows
    with the wrong number of fields. ``parquet``, ``excel``, ``json_reader``,
    ``databases``: the other formats. ``writers``: CSV, Parquet and JSON
    output, formula neutralisation. ``atomic``: atomic files and run
    directories. ``checksum``: SHA-256 of inputs.
"""

from __future__ import annotations

from .atomic import atomic_file, atomic_output_dir, atomic_write_file, check_output_dir
from .checksum import file_sha256, source_sha256
from .parquet import data_files, unreadable_parquet_error
from .ragged import RaggedRow, ragged_fix, ragged_row_error
from .readers import READERS, iter_table, read_head, read_table
from .sources import check_readable, is_url, raise_on_duplicates
from .text import DELIMITERS, decode_text, read_text, resolve_encoding, sniff_delimiter, sniff_text
from .writers import (
    FORMULA_PREFIXES,
    csv_header,
    csv_lines,
    csv_quoting,
    csv_text_cells,
    format_floats,
    neutralise_cell,
    neutralise_formulas,
    write_csv,
    write_json,
    write_parquet,
)

__all__ = [
    # reading
    "READERS",
    "read_table",
    "iter_table",
    "read_head",
    "read_text",
    "is_url",
    "data_files",
    "unreadable_parquet_error",
    "check_readable",
    "raise_on_duplicates",
    # looking at text files
    "DELIMITERS",
    "sniff_text",
    "resolve_encoding",
    "decode_text",
    "sniff_delimiter",
    "ragged_fix",
    "ragged_row_error",
    "RaggedRow",
    # writing
    "FORMULA_PREFIXES",
    "neutralise_cell",
    "neutralise_formulas",
    "write_csv",
    "csv_quoting",
    "format_floats",
    "csv_text_cells",
    "csv_header",
    "csv_lines",
    "write_parquet",
    "write_json",
    # atomic output, checksums
    "check_output_dir",
    "atomic_output_dir",
    "atomic_file",
    "atomic_write_file",
    "file_sha256",
    "source_sha256",
]
