"""A corpus of awkward inputs for ``run``, ``assign``, ``rfm``, ``compare`` and the API.

Every case is a :class:`Case`: a builder that writes its input files into the
(temporary) working directory and returns what to invoke, plus what must come
out. Two kinds:

* **must succeed** (``check`` set): awkward but valid input. ``check`` asserts
  the result is *correct*, usually by comparing it with the result of the same
  data read from a clean UTF-8 CSV.
* **must fail** (``error`` set): the exact one-line message the user sees
  (``error: ...`` on stderr for the command line; ``message`` of the one error
  shape for the API, with ``status`` and ``code``). Paths are relative to the
  working directory, so the messages are stable.

Files are generated here, byte by byte where it matters; nothing binary is
committed. ``tests/test_badinputs.py`` drives the corpus.
"""

from __future__ import annotations

import codecs
import errno
import io as _bytesio
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from custseg.datasets import make_customers

# ------------------------------------------------------------------ the data

N = 48
#: Ids with non-ASCII (but Latin-1) letters, so that a wrong decoding shows.
SPECIAL_IDS = {0: "Müller-001", 1: "Zoë-002", 2: "Ærø-003", 3: "Ñandú-004"}

SPEC = """\
kind = "customers"
id = "customer_id"
cluster_on = ["minutes_watched", "CLV"]
describe = ["region"]
ignore = ["note"]

[columns.minutes_watched]
kind = "numeric"
role = "engagement"
missing = "zero"
transform = "log"

[columns.CLV]
kind = "numeric"
role = "value"
missing = "error"
transform = "none"

[columns.region]
kind = "categorical"
missing = "unknown"
labels = { 0 = "North", 1 = "South", 2 = "East" }

[clustering]
k_range = [2, 4]
n_init = 2
seed = 0
"""


def customers(n: int = N) -> pd.DataFrame:
    """The clean customer table every variant starts from (ids unique, CLV >= 0)."""
    df = make_customers(n, seed=5)[["minutes_watched", "CLV", "region"]].copy()
    ids = [SPECIAL_IDS.get(i, f"C{i + 1:03d}") for i in range(n)]
    df.insert(0, "customer_id", ids)
    return df


def csv_text(df: pd.DataFrame, sep: str = ",") -> str:
    return df.to_csv(sep=sep, index=False, lineterminator="\n")


def put(d: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> str:
    """Write ``data`` to ``d / name`` (text in ``encoding``) and return ``name``."""
    path = d / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return name


def with_cell(column: str, row: int, value: Any, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """The clean table with one cell (``row`` counted from 1) replaced."""
    df = (customers() if df is None else df).copy()
    df[column] = df[column].astype(object)
    df.loc[row - 1, column] = value
    return df


# ------------------------------------------------------------- invocations


@dataclass
class Call:
    """A command line to run in the working directory."""

    args: list[str]
    #: monkeypatch the library before invoking (e.g. a disk that is full)
    patch: Callable[[Any], None] | None = None


@dataclass
class Post:
    """A ``POST /v1/assign`` request."""

    body: bytes
    content_type: str = "application/json"


@dataclass
class Shared:
    """Built once by the test module and shared by its cases."""

    model_json: Path  # a model fitted on customers() with SPEC
    run_dir: Path  # `custseg run` on the clean CSV of customers() with SPEC


@dataclass
class Case:
    id: str
    command: str  # run | assign | rfm | compare | api
    build: Callable[[Path, Shared], Call | Post]
    #: must fail: the exact line (CLI: "error: ..."; API: the error message)
    error: str | None = None
    status: int = 2  # CLI exit code, or HTTP status for the API
    code: str | None = None  # API error code
    #: must succeed: check(workdir, shared, result) asserts the result is right
    check: Callable[[Path, Shared, Any], None] | None = None
    skip_as_root: bool = False
    xfail: str | None = None  # a known bug outside what the tests may fix (see the reason)

    @property
    def must_fail(self) -> bool:
        return self.error is not None


CASES: list[Case] = []


def case(id: str, command: str, *, error: str | None = None, status: int | None = None,
         code: str | None = None, check=None, skip_as_root: bool = False,
         xfail: str | None = None):
    """Register the decorated builder as a case."""

    def register(build):
        default = 2 if command != "api" else (200 if error is None else 422)
        CASES.append(Case(id, command, build, error=error, status=status or default, code=code,
                          check=check, skip_as_root=skip_as_root, xfail=xfail))
        return build

    return register


# ================================================================== run
RUN = ["--spec", "spec.toml", "--out", "out", "--quiet"]


def run_call(d: Path, data: str, *extra: str, spec: str = SPEC, patch=None) -> Call:
    put(d, "spec.toml", spec)
    return Call(["run", data, *RUN, *extra], patch=patch)


def same_segments_as_clean_run(d: Path, shared: Shared, result: Any) -> None:
    """The run read the file as the clean CSV: identical segments.parquet."""
    got = pd.read_parquet(d / "out" / "segments.parquet")
    want = pd.read_parquet(shared.run_dir / "segments.parquet")
    pd.testing.assert_frame_equal(got, want)
    assert got["customer_id"].head(4).tolist() == list(SPECIAL_IDS.values())


# ---- must succeed
@case("latin-1", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers()), "latin-1"))


@case("cp1252-semicolon-crlf", "run", check=same_segments_as_clean_run)
def _(d, s):
    text = csv_text(customers(), sep=";").replace("\n", "\r\n")
    return run_call(d, put(d, "data.csv", text, "cp1252"))


@case("utf-16", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers()), "utf-16"))


@case("utf-8-bom", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.csv", codecs.BOM_UTF8 + csv_text(customers()).encode()))


@case("semicolon", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers(), sep=";")))


@case("tab", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.tsv", csv_text(customers(), sep="\t")))


def _with_notes() -> pd.DataFrame:
    df = customers()
    df["note"] = [f'line one\nline two, "quoted"\r\n{i}' if i % 3 == 0 else "plain"
                  for i in range(len(df))]
    return df


@case("quoted-newlines", "run", check=same_segments_as_clean_run)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(_with_notes())))


def _left_out(code: str, message: str):
    """The check of a file with rows that are not customers: the clean run's segments, and
    the warning, word for word, in the manifest."""

    def check(d: Path, shared: Shared, result: Any) -> None:
        manifest = json.loads((d / "out" / "manifest.json").read_text(encoding="utf-8"))
        found = {w["code"]: w["message"] for w in manifest["warnings"]}
        assert found.get(code) == message, found
        same_segments_as_clean_run(d, shared, result)

    return check


def _lines_with(extra: dict[int, str]) -> str:
    """The clean CSV with ``extra`` lines put before data rows (numbered from 1)."""
    lines = csv_text(customers()).splitlines()
    out = [lines[0]]
    for i, line in enumerate(lines[1:], start=1):
        if i in extra:
            out.append(extra[i])
        out.append(line)
    if len(lines) in extra:
        out.append(extra[len(lines)])
    return "\n".join(out) + "\n"


@case("empty-rows", "run", check=_left_out(
    "empty-rows", "2 rows are empty, left out (rows 11, 31); fix: remove them, or ignore this "
    "warning"))
def _(d, s):
    return run_call(d, put(d, "data.csv", _lines_with({11: ",,,", 30: ",,,"})))


@case("repeated-header", "run", check=_left_out(
    "header-rows", "1 row repeats the header, left out (row 21); fix: remove them from the file "
    "(two exports joined together?)"))
def _(d, s):
    return run_call(d, put(d, "data.csv", _lines_with({21: "customer_id,minutes_watched,CLV,region"})))


@case("total-row", "run", check=_left_out(
    "total-rows", "1 row is a summary row (Total), not a customer, left out (row 49); fix: "
    "remove them from the export, or ignore this warning"))
def _(d, s):
    return run_call(d, put(d, "data.csv", _lines_with({N + 1: "Total,99999.5,12345.25,"})))


@case("currency-with-format", "run", check=same_segments_as_clean_run)
def _(d, s):
    df = customers()
    df["CLV"] = [f"${v:,.2f}" if i % 2 else f"{v:.2f}" for i, v in enumerate(df["CLV"])]
    return run_call(d, put(d, "data.csv", csv_text(df)),
                    spec=SPEC.replace('missing = "error"\ntransform = "none"',
                                      'missing = "error"\ntransform = "none"\n'
                                      'format = "$1,234.56"'))


def _constant_column_dropped(d: Path, shared: Shared, result: Any) -> None:
    manifest = json.loads((d / "out" / "manifest.json").read_text(encoding="utf-8"))
    codes = [(w["code"], w.get("column")) for w in manifest["warnings"]]
    assert ("constant-column", "plan") in codes, codes
    assert manifest["cluster_on"] == ["minutes_watched", "CLV"]
    assert "plan" not in manifest["features"]
    same_segments_as_clean_run(d, shared, result)


CONSTANT_SPEC = SPEC.replace('cluster_on = ["minutes_watched", "CLV"]',
                             'cluster_on = ["minutes_watched", "CLV", "plan"]') + """
[columns.plan]
kind = "numeric"
role = "attribute"
missing = "error"
transform = "none"
"""


@case("constant-column", "run", check=_constant_column_dropped)
def _(d, s):
    df = customers()
    df["plan"] = 12.0
    return run_call(d, put(d, "data.csv", csv_text(df)), spec=CONSTANT_SPEC)


FORMULA_IDS = {0: '=HYPERLINK("http://x.example","click")', 1: "@SUM(A1:A9)",
               2: "+41 cmd", 3: "-2+3", 4: "\tTAB"}


def _formula_df() -> pd.DataFrame:
    df = customers()
    for i, v in FORMULA_IDS.items():
        df.loc[i, "customer_id"] = v
    return df


def _formulas_neutralised(d: Path, shared: Shared, result: Any) -> None:
    text = pd.read_csv(d / "out" / "segments.csv", dtype=str, keep_default_na=False)
    raw = pd.read_parquet(d / "out" / "segments.parquet")
    by_raw = dict(zip(raw["customer_id"], text["customer_id"], strict=True))
    for value in FORMULA_IDS.values():
        assert by_raw[value] == "'" + value, (value, by_raw[value])
    assert by_raw["C010"] == "C010"
    # the raw ids are those of the input, in order
    assert set(raw["customer_id"]) == set(_formula_df()["customer_id"])
    assert len(raw) == N


@case("formula-ids", "run", check=_formulas_neutralised)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(_formula_df())))


HTML_COLUMN = "<script>alert('column')</script>"
HTML_PAYLOADS = ("<script>alert(", "<img src=x", "</textarea><b>", "$\\frac{1}{0}$")
HTML_SPEC = (SPEC.replace('describe = ["region"]', f'describe = ["region", "{HTML_COLUMN}"]')
             + f"""
[columns."{HTML_COLUMN}"]
kind = "categorical"

[columns."{HTML_COLUMN}".labels]
1 = "<img src=x onerror=alert('label')>"
2 = "</textarea><b>bold</b>"
3 = "$\\\\frac{{1}}{{0}}$ & co"

[names]
0 = "<script>alert('name')</script>"
""")


def _html_df() -> pd.DataFrame:
    df = customers()
    df[HTML_COLUMN] = [1 + i % 3 for i in range(len(df))]
    df.loc[5, "customer_id"] = "<script>alert('id')</script>"
    return df


def _html_escaped(d: Path, shared: Shared, result: Any) -> None:
    html = (d / "out" / "report.html").read_text(encoding="utf-8")
    for payload in HTML_PAYLOADS[:3]:
        assert payload not in html, payload
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in html or \
        "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    segments = pd.read_parquet(d / "out" / "segments.parquet")
    assert "<script>alert('id')</script>" in segments["customer_id"].tolist()


@case("html-names-and-values", "run", check=_html_escaped)
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(_html_df())), "--k", "3", spec=HTML_SPEC)


# ---- must fail
@case("missing-file", "run",
      error="error: file not found: data.csv; fix: check the path (relative paths start at {cwd})")
def _(d, s):
    return run_call(d, "data.csv")


@case("empty-file", "run", error="error: data.csv is empty; fix: check that you picked the right file")
def _(d, s):
    return run_call(d, put(d, "data.csv", b""))


@case("no-line-break", "run",
      error="error: data.csv has no line break in its first 1 MiB: it is not a table with one "
            "customer per line; fix: check the file (a JSON document or a binary file saved as "
            ".csv?), or export the table again")
def _(d, s):
    return run_call(d, put(d, "data.csv", "minutes_watched,CLV,region,channel," +
                           ",".join(["12.5"] * 300_000)))


@case("header-only", "run",
      error="error: data.csv has a header but no data rows; fix: check that you picked the right "
            "file (or sheet)")
def _(d, s):
    return run_call(d, put(d, "data.csv", "customer_id,minutes_watched,CLV,region\n"))


def _binary() -> bytes:
    rng = np.random.default_rng(0)
    return b"\x89BIN\x00\x01" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()


@case("binary", "run",
      error="error: data.csv looks binary, not text; fix: check that it is the data file you "
            "meant; if it is UTF-16 text without a byte-order mark, pass --encoding utf-16-le")
def _(d, s):
    return run_call(d, put(d, "data.csv", _binary()))


@case("parquet-named-csv", "run",
      error="error: data.csv looks binary, not text; fix: it looks like a Parquet file; rename it "
            "to .parquet")
def _(d, s):
    buf = _bytesio.BytesIO()
    customers().to_parquet(buf)
    return run_call(d, put(d, "data.csv", buf.getvalue()))


def _ragged() -> str:
    lines = csv_text(customers()).splitlines()
    lines[7] += ",Smith, John"
    return "\n".join(lines) + "\n"


@case("ragged-rows", "run",
      error="error: line 8 of data.csv has 6 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return run_call(d, put(d, "data.csv", _ragged()))


def _ragged_first_row() -> str:
    lines = csv_text(customers()).splitlines()
    lines[1] += ",Smith, John"
    return "\n".join(lines) + "\n"


@case("ragged-first-row", "run",
      error="error: line 2 of data.csv has 6 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return run_call(d, put(d, "data.csv", _ragged_first_row()))


SHORT_FIX = ("add the missing fields (an empty field still needs its comma ',', e.g. \"c1,,5\"), or "
             "rejoin a row that was broken across lines")


def _short_last_row() -> str:
    """Issue #16's example: a row with fewer fields at the end (the header has 4)."""
    return csv_text(customers()) + "C999,1,2\n"


def _short_row_at(line: int, text: str | None = None, sep: str = ",") -> str:
    """The clean CSV (or ``text``) with the last field of physical ``line`` (from 1) dropped."""
    lines = (csv_text(customers()) if text is None else text).split("\n")
    lines[line - 1] = lines[line - 1].rsplit(sep, 1)[0]
    return "\n".join(lines)


def _long_last_row() -> str:
    return csv_text(customers()) + "C999,1,2,0,x\n"


@case("short-last-row", "run",
      error=f"error: line 50 of data.csv has 3 fields but the header has 4; fix: {SHORT_FIX}")
def _(d, s):
    return run_call(d, put(d, "data.csv", _short_last_row()))


@case("short-row", "run",
      error=f"error: line 20 of data.csv has 3 fields but the header has 4; fix: {SHORT_FIX}")
def _(d, s):
    return run_call(d, put(d, "data.csv", _short_row_at(20)))


@case("long-last-row", "run",
      error="error: line 50 of data.csv has 5 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return run_call(d, put(d, "data.csv", _long_last_row()))


@case("short-row-cp1252-semicolon-crlf", "run",
      error="error: line 20 of data.csv has 3 fields but the header has 4; fix: add the missing "
            "fields (an empty field still needs its semicolon ';', e.g. \"c1;;5\"), or rejoin a "
            "row that was broken across lines")
def _(d, s):  # read by pandas (not UTF-8), which fills a short row with empty cells
    text = _short_row_at(20, csv_text(customers(), sep=";"), ";").replace("\n", "\r\n")
    return run_call(d, put(d, "data.csv", text, "cp1252"))


@case("short-row-after-quoted-newlines", "run",
      error=f"error: line 30 of data.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):  # the notes of rows 1, 4, 7, ... span 3 lines each: data row 17 starts on line 30
    lines = csv_text(_with_notes()).split("\n")
    assert lines[29].startswith("C017,") and lines[29].endswith(",plain")
    lines[29] = lines[29].rsplit(",", 1)[0]
    return run_call(d, put(d, "data.csv", "\n".join(lines)))


def _duplicate_columns() -> str:
    df = customers()
    df["CLV2"] = df["CLV"]
    return csv_text(df).replace(",CLV2\n", ",CLV\n", 1)


@case("duplicate-column-names", "run",
      error="error: data.csv has duplicate column names: 'CLV' (columns 3, 5); fix: rename the "
            "columns so that each name is unique")
def _(d, s):
    return run_call(d, put(d, "data.csv", _duplicate_columns()))


@case("mixed-types", "run",
      error="error: column 'CLV' has 1 non-numeric value (row 6: 'about 40'); fix: correct or "
            "empty that cell, or declare the column kind = \"categorical\"")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 6, "about 40"))))


@case("thousands-separators", "run",
      error="error: column 'CLV' has 1 number with thousands separators (row 3: '1,234.50'); fix: "
            "export plain numbers without separators (1234.5, not 1,234.5)")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 3, "1,234.50"))))


@case("decimal-comma", "run",
      error="error: column 'CLV' has 48 numbers with a decimal comma (row 1: '209,30', row 2: "
            "'19,01', row 3: '90,79'); fix: export numbers with a decimal point (12.5, not 12,5)")
def _(d, s):
    df = customers()
    df["CLV"] = df["CLV"].map(lambda v: f"{v:.2f}".replace(".", ","))
    return run_call(d, put(d, "data.csv", csv_text(df, sep=";")))


@case("nan-text", "run",
      error="error: column 'CLV' has 1 placeholder for a missing or infinite number (row 9: "
            "'NaN'); fix: leave the cell empty for a missing value and set the column's missing "
            "policy")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 9, "NaN"))))


@case("inf-text", "run",
      error="error: column 'CLV' has 1 placeholder for a missing or infinite number (row 2: "
            "'inf'); fix: leave the cell empty for a missing value and set the column's missing "
            "policy")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 2, "inf"))))


@case("dash-text", "run",
      error="error: column 'CLV' has 1 placeholder for a missing or infinite number (row 4: '-'); "
            "fix: leave the cell empty for a missing value and set the column's missing policy")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 4, "-"))))


@case("all-empty-column", "run",
      error="error: column 'minutes_watched' is entirely empty; fix: remove it from the spec (or "
            "list it under ignore) or fill it")
def _(d, s):
    df = customers()
    df["minutes_watched"] = np.nan
    return run_call(d, put(d, "data.csv", csv_text(df)))


@case("negative-clv", "run",
      error="error: column 'CLV' (value) has 1 negative value (row 11: '-25.0'); fix: correct it, "
            "or set role = \"attribute\" if negatives are meaningful")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 11, -25.0))))


@case("unknown-category-code", "run",
      error="error: column 'region' has 1 value with a code not in the spec's labels ('7'; row 8: "
            "'7'); fix: add it to [columns.region] labels or correct the data")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("region", 8, 7))))


@case("decimal-comma-shifted-into-integer-codes", "run",
      error="error: column 'region' holds integer codes, but 1 row has a value that is not one "
            "(row 8: '5;0'); fix: correct it (a decimal comma or a shifted column?), or, if the "
            "column holds text codes, name every code in [columns.region] labels")
def _(d, s):
    # a decimal-comma export broke the row: "5;0" landed in the integer-coded region, and
    # the spec (as `custseg init` writes it) names no labels
    spec = SPEC.replace('labels = { 0 = "North", 1 = "South", 2 = "East" }\n', "")
    return run_call(d, put(d, "data.csv", csv_text(with_cell("region", 8, "5;0"))), spec=spec)


@case("duplicate-ids", "run",
      error="error: id column 'customer_id' has 2 rows sharing an id (row 10: 'C010', row 12: "
            "'C010'); fix: remove the duplicates or choose another id column")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("customer_id", 12, "C010"))))


@case("one-row", "run",
      error="error: the data has 1 rows (n_samples = 1) but the clustering needs at least 5; fix: "
            "use more customers, or a smaller --k or --k-range")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers().head(1))))


@case("k-above-rows", "run",
      error="error: the data has 48 rows (n_samples = 48) but the clustering needs at least 61; "
            "fix: use more customers, or a smaller --k or --k-range")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers())), "--k", "60")


@case("k-range-above-rows", "run",
      error="error: the data has 6 rows (n_samples = 6) but the clustering needs at least 9; fix: "
            "use more customers, or a smaller --k or --k-range")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers().head(6))), "--k-range", "2-8")


@case("one-megabyte-field", "run",
      error="error: column 'region' has 1 cell longer than 10,000 characters (row 20); fix: check "
            "the file's quoting and delimiter")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("region", 20, "x" * 1_048_576))))


@case("one-megabyte-number", "run",
      error="error: column 'CLV' has 1 cell longer than 10,000 characters (row 20); fix: check "
            "the file's quoting and delimiter")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(with_cell("CLV", 20, "9" * 1_048_576))))


@case("5000-columns", "run",
      error="error: the data has 5000 columns, more than custseg handles (1000); fix: select the "
            "columns to segment on (e.g. with --sql) before running")
def _(d, s):
    df = customers()
    wide = pd.DataFrame(np.zeros((N, 4996)), columns=[f"f{i}" for i in range(4996)])
    return run_call(d, put(d, "data.csv", csv_text(pd.concat([df, wide], axis=1))))


@case("spec-typo", "run",
      error="error: spec.toml: unknown key 'clsuter_on' in the top level; did you mean "
            "'cluster_on'?; fix: allowed keys there are kind, id, cluster_on, describe, ignore, "
            "columns, groups, names, clustering, recommendations, transactions, rfm, as_of")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers())),
                    spec=SPEC.replace("cluster_on =", "clsuter_on ="))


@case("spec-unknown-key", "run",
      error="error: spec.toml: unknown key 'colour' in [columns.CLV]; fix: allowed keys there are "
            "kind, role, missing, transform, better, format, na_values, labels, words, description, "
            "pii")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers())),
                    spec=SPEC.replace('missing = "error"', 'missing = "error"\ncolour = "red"'))


@case("spec-column-typo", "run",
      error="error: spec.toml: unknown key 'transfrom' in [columns.minutes_watched]; did you mean "
            "'transform'?; fix: allowed keys there are kind, role, missing, transform, better, "
            "format, na_values, labels, words, description, pii")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers())),
                    spec=SPEC.replace('transform = "log"', 'transfrom = "log"'))


@case("spec-names-missing-column", "run",
      error="error: column 'region' named in the spec is missing from the data (columns there: "
            "customer_id, minutes_watched, CLV); fix: correct the name in the spec or the data")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers().drop(columns="region"))))


@case("spec-column-name-differs-in-case", "run",
      error="error: column 'CLV' named in the spec is missing from the data (columns there: "
            "customer_id, minutes_watched, clv, region); fix: did you mean 'clv'? correct the "
            "name in the spec or the data")
def _(d, s):
    df = customers().rename(columns={"CLV": "clv"})
    return run_call(d, put(d, "data.csv", csv_text(df)))


@case("truncated-parquet", "run",
      error="error: data.parquet is not a readable Parquet file (truncated or corrupted?); fix: "
            "write it again, or check that it was copied completely")
def _(d, s):
    buf = _bytesio.BytesIO()
    customers().to_parquet(buf)
    return run_call(d, put(d, "data.parquet", buf.getvalue()[: len(buf.getvalue()) // 2]))


@case("path-is-a-directory", "run",
      error="error: data.csv is a directory, not a data file; fix: pass the path of a file inside "
            "it")
def _(d, s):
    (d / "data.csv").mkdir()
    return run_call(d, "data.csv")


@case("dangling-symlink", "run",
      error="error: data.csv is a symbolic link to gone.csv, which does not exist; fix: point the "
            "link at the data file, or pass the file's own path")
def _(d, s):
    os.symlink("gone.csv", d / "data.csv")
    return run_call(d, "data.csv")


@case("unreadable-file", "run",
      error="error: cannot read data.csv: permission denied; fix: check the file permissions "
            "(e.g. chmod u+r) or copy it somewhere readable", skip_as_root=True)
def _(d, s):
    put(d, "data.csv", csv_text(customers()))
    os.chmod(d / "data.csv", 0)
    return run_call(d, "data.csv")


@case("output-exists", "run",
      error="error: output directory out already exists and is not empty; fix: pass --overwrite "
            "to replace it, or choose another --out")
def _(d, s):
    put(d, "out/keep.txt", "an earlier run")
    return run_call(d, put(d, "data.csv", csv_text(customers())))


def disk_full(monkeypatch) -> None:
    """The disk fills up while a CSV is written: the file is half there, then ENOSPC."""
    from custseg import io as cio

    def write_csv(df, path, *, neutralise=True):
        with cio.atomic_file(path) as tmp:
            tmp.write_bytes(b"customer_id,segm")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    monkeypatch.setattr(cio, "write_csv", write_csv)


@case("disk-full", "run",
      error="error: cannot write out (file segments.csv): No space left on device [ENOSPC]; fix: "
            "free some disk space, or write the output to a disk with room")
def _(d, s):
    return run_call(d, put(d, "data.csv", csv_text(customers())), patch=disk_full)


# ================================================================ assign
def assign_call(d: Path, shared: Shared, data: str, *extra: str, patch=None,
                model: str | None = None) -> Call:
    if model is None:
        shutil.copy(shared.model_json, d / "model.json")
        model = "model.json"
    return Call(["assign", model, data, "-o", "assigned.csv", "--quiet", *extra], patch=patch)


def _model(shared: Shared):
    from custseg import load_model

    return load_model(shared.model_json)


def same_assignments_as_clean(d: Path, shared: Shared, result: Any, df=None,
                              output: str = "assigned.csv") -> None:
    want, _ = _model(shared).assign(customers() if df is None else df)
    if output.endswith(".csv"):
        got = pd.read_csv(d / output, dtype={"customer_id": str}, keep_default_na=False)
        want = pd.read_csv(_bytesio.StringIO(csv_text(_neutralised(want))),
                           dtype={"customer_id": str}, keep_default_na=False)
    else:
        got = pd.read_parquet(d / output)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def _neutralised(df: pd.DataFrame) -> pd.DataFrame:
    from custseg.io import neutralise_formulas

    return neutralise_formulas(df)


# ---- must succeed
@case("latin-1", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(customers()), "latin-1"))


@case("utf-16", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(customers()), "utf-16"))


@case("utf-8-bom", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", codecs.BOM_UTF8 + csv_text(customers()).encode()))


@case("semicolon", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(customers(), sep=";")))


@case("tab", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.tsv", csv_text(customers(), sep="\t")))


@case("quoted-newlines-in-chunks", "assign", check=same_assignments_as_clean)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(_with_notes())), "--chunk-size", "7")


def _formula_ids_assigned(d, shared, result):
    same_assignments_as_clean(d, shared, result, df=_formula_df())
    got = pd.read_csv(d / "assigned.csv", dtype=str, keep_default_na=False)
    assert got["customer_id"].iloc[0] == "'" + FORMULA_IDS[0]


@case("formula-ids-csv", "assign", check=_formula_ids_assigned)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(_formula_df())))


def _formula_ids_raw(d, shared, result):
    same_assignments_as_clean(d, shared, result, df=_formula_df(), output="assigned.parquet")
    assert pd.read_parquet(d / "assigned.parquet")["customer_id"].iloc[0] == FORMULA_IDS[0]


@case("formula-ids-parquet", "assign", check=_formula_ids_raw)
def _(d, s):
    call = assign_call(d, s, put(d, "new.csv", csv_text(_formula_df())))
    call.args[call.args.index("assigned.csv")] = "assigned.parquet"
    return call


def _unseen_code_flagged(d, shared, result):
    df = with_cell("region", 8, 7)
    same_assignments_as_clean(d, shared, result, df=df)
    got = pd.read_csv(d / "assigned.csv")
    assert bool(got["unfamiliar"].iloc[7]) is True


@case("unknown-category-code", "assign", check=_unseen_code_flagged)
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("region", 8, 7))))


@case("missing-column", "assign",
      error="error: column 'CLV' the model needs is missing from the data (columns there: "
            "customer_id, minutes_watched, Clv, region); fix: did you mean 'Clv'? rename that "
            "column of the data to 'CLV'")
def _(d, s):
    df = customers().rename(columns={"CLV": "Clv"})
    return assign_call(d, s, put(d, "new.csv", csv_text(df)))


@case("5000-columns", "assign", check=same_assignments_as_clean)
def _(d, s):
    wide = pd.DataFrame(np.zeros((N, 4996)), columns=[f"f{i}" for i in range(4996)])
    return assign_call(d, s, put(d, "new.csv", csv_text(pd.concat([customers(), wide], axis=1))))


# ---- must fail
@case("empty-file", "assign",
      error="error: new.csv is empty; fix: check that you picked the right file")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", b""))


@case("header-only", "assign",
      error="error: new.csv has a header but no data rows; fix: check that you picked the right "
            "file (or sheet)")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", "customer_id,minutes_watched,CLV,region\n"))


@case("binary", "assign",
      error="error: new.csv looks binary, not text; fix: check that it is the data file you "
            "meant; if it is UTF-16 text without a byte-order mark, pass --encoding utf-16-le")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _binary()))


@case("ragged-rows", "assign",
      error="error: line 8 of new.csv has 6 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _ragged()))


@case("mixed-types", "assign",
      error="error: column 'CLV' has 1 non-numeric value (row 6: 'about 40'); fix: correct or "
            "empty that cell, or declare the column kind = \"categorical\"")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 6, "about 40"))))


@case("mixed-types-second-chunk", "assign",
      error="error: column 'CLV' has 1 non-numeric value (row 30: 'about 40'); fix: correct or "
            "empty that cell, or declare the column kind = \"categorical\"")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 30, "about 40"))),
                       "--chunk-size", "10")


@case("thousands-separators", "assign",
      error="error: column 'CLV' has 1 number with thousands separators (row 3: '1,234.50'); fix: "
            "export plain numbers without separators (1234.5, not 1,234.5)")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 3, "1,234.50"))))


@case("decimal-comma", "assign",
      error="error: column 'CLV' has 48 numbers with a decimal comma (row 1: '209,30', row 2: "
            "'19,01', row 3: '90,79'); fix: export numbers with a decimal point (12.5, not 12,5)")
def _(d, s):
    df = customers()
    df["CLV"] = df["CLV"].map(lambda v: f"{v:.2f}".replace(".", ","))
    return assign_call(d, s, put(d, "new.csv", csv_text(df, sep=";")))


@case("nan-text", "assign",
      error="error: column 'CLV' has 1 placeholder for a missing or infinite number (row 9: "
            "'NaN'); fix: leave the cell empty for a missing value and set the column's missing "
            "policy")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 9, "NaN"))))


@case("all-empty-column", "assign",
      error="error: column 'CLV' is entirely empty and the model needs it (missing = \"error\"); "
            "fix: fill it")
def _(d, s):
    df = customers()
    df["CLV"] = np.nan
    return assign_call(d, s, put(d, "new.csv", csv_text(df)))


@case("negative-clv", "assign",
      error="error: column 'CLV' (value) has 1 negative value (row 11: '-25.0'); fix: correct it, "
            "or set role = \"attribute\" if negatives are meaningful")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 11, -25.0))))


@case("duplicate-ids", "assign",
      error="error: id column 'customer_id' has 2 rows sharing an id (row 10: 'C010', row 12: "
            "'C010'); fix: remove the duplicates or leave the id column out (customers are then "
            "numbered)")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("customer_id", 12, "C010"))))


@case("one-megabyte-field", "assign",
      error="error: column 'CLV' has 1 cell longer than 10,000 characters (row 20); fix: check "
            "the file's quoting and delimiter")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 20, "x" * 1_048_576))))


@case("one-megabyte-number", "assign",
      error="error: column 'CLV' has 1 cell longer than 10,000 characters (row 20); fix: check "
            "the file's quoting and delimiter")
def _(d, s):
    """A million digits: pandas reads it as infinity; the message must quote the file."""
    return assign_call(d, s, put(d, "new.csv", csv_text(with_cell("CLV", 20, "9" * 1_048_576))),
                       "--chunk-size", "16")


@case("ragged-first-row", "assign",
      error="error: line 2 of new.csv has 6 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _ragged_first_row()))


@case("short-last-row", "assign",
      error=f"error: line 50 of new.csv has 3 fields but the header has 4; fix: {SHORT_FIX}")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _short_last_row()))


@case("short-row-in-chunks", "assign",
      error=f"error: line 20 of new.csv has 3 fields but the header has 4; fix: {SHORT_FIX}")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _short_row_at(20)), "--chunk-size", "7")


@case("long-last-row", "assign",
      error="error: line 50 of new.csv has 5 fields but the header has 4; fix: quote fields that "
            "contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _long_last_row()), "--chunk-size", "7")


@case("duplicate-column-names", "assign",
      error="error: new.csv has duplicate column names: 'CLV' (columns 3, 5); fix: rename the "
            "columns so that each name is unique")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", _duplicate_columns()))


def _model_text(shared: Shared) -> str:
    return shared.model_json.read_text(encoding="utf-8")


@case("corrupted-model", "assign",
      error="error: model.json failed its checksum: the file was changed or corrupted; fix: "
            "re-create it with custseg run")
def _(d, s):
    text = _model_text(s).replace('"North"', '"Nord"', 1)
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())),
                       model=put(d, "model.json", text))


@case("garbage-model", "assign",
      error="error: model.json is not a custseg model: it is not UTF-8 text (byte 0x89 at offset "
            "0); fix: pass the model.json written by custseg run")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())),
                       model=put(d, "model.json", _binary()))


@case("truncated-model", "assign",
      error="error: model.json is not valid JSON (truncated or corrupted?): Expecting ',' "
            "delimiter (line 187, column 21); fix: re-create it with custseg run")
def _(d, s):
    text = _model_text(s)
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())),
                       model=put(d, "model.json", text[: len(text) // 2]))


@case("newer-model-version", "assign",
      error="error: model.json has format version 99, newer than this custseg understands (2); "
            "fix: upgrade custseg")
def _(d, s):
    model = json.loads(_model_text(s))
    model["format_version"] = 99
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())),
                       model=put(d, "model.json", json.dumps(model)))


@case("model-dir-without-model", "assign",
      error="error: 'run' is not a custseg run directory (it has no model.json); fix: pass the "
            "--out directory of custseg run, or a model.json")
def _(d, s):
    (d / "run").mkdir()
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())), model="run")


@case("truncated-parquet", "assign",
      error="error: new.parquet is not a readable Parquet file (truncated or corrupted?); fix: "
            "write it again, or check that it was copied completely")
def _(d, s):
    buf = _bytesio.BytesIO()
    customers().to_parquet(buf)
    return assign_call(d, s, put(d, "new.parquet", buf.getvalue()[: len(buf.getvalue()) // 2]))


@case("path-is-a-directory", "assign",
      error="error: new.csv is a directory, not a data file; fix: pass the path of a file inside "
            "it")
def _(d, s):
    (d / "new.csv").mkdir()
    return assign_call(d, s, "new.csv")


@case("dangling-symlink", "assign",
      error="error: new.csv is a symbolic link to gone.csv, which does not exist; fix: point the "
            "link at the data file, or pass the file's own path")
def _(d, s):
    os.symlink("gone.csv", d / "new.csv")
    return assign_call(d, s, "new.csv")


@case("output-exists", "assign",
      error="error: 'assigned.csv' already exists; fix: pass --overwrite or choose another output")
def _(d, s):
    put(d, "assigned.csv", "an earlier file\n")
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())))


def disk_full_assign(monkeypatch) -> None:
    """ENOSPC from the chunk writer of `assign` after part of the file is written."""
    from custseg import scoring

    def write(self, frame):
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("customer_id,segm")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    monkeypatch.setattr(scoring._Writer, "write", write)
    monkeypatch.setattr(scoring._ArrowWriter, "write", write)  # the Arrow path's writer


@case("disk-full", "assign",
      error="error: cannot write assigned.csv: No space left on device [ENOSPC]; fix: free some "
            "disk space, or write the output to a disk with room")
def _(d, s):
    return assign_call(d, s, put(d, "new.csv", csv_text(customers())), patch=disk_full_assign)


# =================================================================== rfm
LOG_HEADER = "customer_id,date,amount,currency,product\n"
LOG_ROWS = [
    "A1,2024-01-05,19.90,EUR,book",
    "A1,2024-02-11,5.00,EUR,pen",
    "B2,2024-01-20,120.00,EUR,lamp",
    "B2,2024-03-02,-20.00,EUR,lamp (return)",
    "C3,2024-02-29,45.50,EUR,mug",
    "C3,2024-03-15,45.50,EUR,mug",
    "D4,2024-03-30,9.99,EUR,card",
    "E5,2024-04-01,300.00,EUR,chair",
]


def log_text(rows: list[str] | None = None, header: str = LOG_HEADER, sep: str = ",") -> str:
    text = header + "\n".join(rows or LOG_ROWS) + "\n"
    return text.replace(",", sep) if sep != "," else text


def log_with(row: int, column: int, value: str) -> str:
    """The log with one cell (data row from 1, column from 0) replaced."""
    rows = [r.split(",") for r in LOG_ROWS]
    rows[row - 1][column] = value
    return log_text([",".join(r) for r in rows])


RFM_ARGS = ["-o", "customers.parquet", "--customer", "customer_id", "--date", "date",
            "--amount", "amount", "--as-of", "2024-04-30", "--quiet"]


def rfm_call(d: Path, data: str, *extra: str, args: list[str] | None = None, patch=None) -> Call:
    return Call(["rfm", data, *(RFM_ARGS if args is None else args), *extra], patch=patch)


def _clean_customers() -> pd.DataFrame:
    from custseg.rfm import aggregate

    log = pd.read_csv(_bytesio.StringIO(log_text()), dtype={"customer_id": str})
    return aggregate(log, {"customer": "customer_id", "date": "date", "amount": "amount"},
                     as_of="2024-04-30")


def same_customers_as_clean(d: Path, shared: Shared, result: Any) -> None:
    got = pd.read_parquet(d / "customers.parquet")
    want = _clean_customers()
    cols = ["customer_id", "recency_days", "frequency_orders", "monetary_total"]
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                  want[cols].reset_index(drop=True), check_dtype=False)
    assert got.loc[got["customer_id"] == "B2", "monetary_total"].item() == 100.0


# ---- must succeed
@case("latin-1-semicolon", "rfm", check=same_customers_as_clean)
def _(d, s):
    text = log_text(sep=";").replace("book", "Bücher").replace("pen", "Füller")
    return rfm_call(d, put(d, "orders.csv", text, "latin-1"))


@case("utf-16", "rfm", check=same_customers_as_clean)
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_text(), "utf-16"))


@case("utf-8-bom-tab", "rfm", check=same_customers_as_clean)
def _(d, s):
    return rfm_call(d, put(d, "orders.tsv", codecs.BOM_UTF8 + log_text(sep="\t").encode()))


@case("quoted-newlines", "rfm", check=same_customers_as_clean)
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(3, 4, '"lamp\nwith ""shade"", 2 parts"')))


@case("quoted-delimiters-crlf", "rfm", check=same_customers_as_clean)
def _(d, s):  # fields holding the delimiter, in a file with CRLF line ends: not ragged rows
    text = log_with(3, 4, '"lamp, with shade"').replace("mug", '"mug, blue"').replace("\n", "\r\n")
    return rfm_call(d, put(d, "orders.csv", text))


@case("columns-guessed", "rfm", check=same_customers_as_clean)
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_text()),
                    args=["-o", "customers.parquet", "--as-of", "2024-04-30", "--quiet"])


# ---- must fail
@case("unparseable-date", "rfm",
      error="error: column 'date' has 1 value that is not a date (row 5: '2024-02-30'); fix: "
            "write dates as ISO dates (2024-01-31), ISO date-times (2024-01-31 14:05:00) or "
            "yyyymmdd numbers (20240131)")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(5, 1, "2024-02-30")))


@case("future-date", "rfm",
      error="error: column 'date' has 1 date later than today, {today} (row 6: '2999-03-15'); "
            "fix: correct it (a wrong year, or day and month swapped?) or remove that row")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(6, 1, "2999-03-15")))


@case("several-currencies", "rfm",
      error="error: column 'currency' holds 2 currencies (EUR: 7 rows, USD: 1 row) and custseg "
            "does not convert between them; fix: convert the amounts to one currency first, or "
            "analyse each currency separately (filter the log to one)")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(7, 3, "USD")), "--currency", "currency")


@case("negative-amounts-returns-error", "rfm",
      error="error: column 'amount' has 1 negative amount, i.e. a return (row 4: '-20.00'); fix: "
            "pass --returns net (returns = \"net\" in the spec) to net returns against the "
            "customer's purchases, or --returns drop to leave them out")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_text()), "--returns", "error")


@case("thousands-separators", "rfm",
      error="error: column 'amount' has 1 value that is not a number (row 8: '1,300.00'); fix: "
            "export plain numbers without thousands separators (1234.5, not 1,234.5)")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(8, 2, '"1,300.00"')))


@case("decimal-comma", "rfm",
      error="error: column 'amount' has 1 value that is not a number (row 1: '19,90'); fix: "
            "export numbers with a decimal point (12.5, not 12,5)")
def _(d, s):
    text = log_text(sep=";").replace("19.90", "19,90")
    return rfm_call(d, put(d, "orders.csv", text))


@case("nan-amount", "rfm",
      error="error: column 'amount' has 1 value that is not a number (row 2: 'NaN'); fix: give "
            "every transaction a number, or remove those rows (amounts cannot be missing)")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(2, 2, "NaN")))


@case("empty-file", "rfm",
      error="error: orders.csv is empty; fix: check that you picked the right file")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", b""))


@case("header-only", "rfm",
      error="error: orders.csv has no rows; fix: check the file, or the filter that made the log")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", LOG_HEADER))


@case("binary", "rfm",
      error="error: orders.csv looks binary, not text; fix: check that it is the data file you "
            "meant; if it is UTF-16 text without a byte-order mark, pass --encoding utf-16-le")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", _binary()))


@case("ragged-rows", "rfm",
      error="error: line 5 of orders.csv has 6 fields but the header has 5; fix: quote fields "
            "that contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(4, 4, "lamp, returned")))


def short_log(line: int, *, newline: str = "\n", final: bool = True) -> str:
    """The log with the last field of physical ``line`` (from 1; the header is line 1) dropped."""
    lines = log_text().splitlines()
    lines[line - 1] = lines[line - 1].rsplit(",", 1)[0]
    return newline.join(lines) + (newline if final else "")


# issue #16: a row with fewer fields than the header was read with empty cells, silently
@case("short-row", "rfm",
      error=f"error: line 5 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", short_log(5)))


@case("short-last-row", "rfm",
      error=f"error: line 9 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", short_log(9, final=False)))


@case("short-row-crlf", "rfm",
      error=f"error: line 3 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", short_log(3, newline="\r\n")))


@case("short-row-after-quoted-newlines", "rfm",
      error=f"error: line 8 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):  # data row 3's product spans lines 4 to 6, so data row 5 is on line 8
    text = log_with(3, 4, '"lamp\nwith ""shade"", 2 parts\nand a bulb"').splitlines()
    assert text[7].startswith("C3,2024-02-29")
    text[7] = text[7].rsplit(",", 1)[0]
    return rfm_call(d, put(d, "orders.csv", "\n".join(text) + "\n"))


@case("long-last-row", "rfm",
      error="error: line 9 of orders.csv has 6 fields but the header has 5; fix: quote fields "
            "that contain the comma ',' (e.g. \"Smith, John\"), or remove the extra delimiter")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", log_with(8, 4, "chair,x")))


TX_SPEC = """\
kind = "transactions"
[transactions]
customer = "customer_id"
date = "date"
amount = "amount"
as_of = "2024-04-30"
[rfm]
bins = 5
"""


@case("short-row-order-log", "run",
      error=f"error: line 5 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):  # the log is aggregated from the file, by DuckDB
    return run_call(d, put(d, "orders.csv", short_log(5)), spec=TX_SPEC)


@case("short-row-order-log-inferred", "run",
      error=f"error: line 5 of orders.csv has 4 fields but the header has 5; fix: {SHORT_FIX}")
def _(d, s):  # no spec: the log is read by custseg.io, then recognised
    return Call(["run", put(d, "orders.csv", short_log(5)), "--out", "out", "--quiet"])


@case("column-typo", "rfm",
      error="error: column 'amuont' given as the amount column is missing from orders.csv "
            "(columns there: customer_id, date, amount, currency, product); fix: did you mean "
            "'amount'? pass the name of the amount column as it is in the log")
def _(d, s):
    args = list(RFM_ARGS)
    args[args.index("amount")] = "amuont"
    return rfm_call(d, put(d, "orders.csv", log_text()), args=args)


@case("columns-not-guessable", "rfm",
      error="error: cannot tell which columns hold the customer, date and amount; fix: pass "
            "--customer, --date and --amount")
def _(d, s):
    return rfm_call(d, put(d, "orders.csv", "a,b\nx,y\nz,w\n"),
                    args=["-o", "customers.parquet", "--quiet"])


@case("truncated-parquet", "rfm",
      error="error: orders.parquet is not a readable Parquet file (truncated or corrupted?); fix: "
            "write it again, or check that it was copied completely")
def _(d, s):
    buf = _bytesio.BytesIO()
    pd.read_csv(_bytesio.StringIO(log_text())).to_parquet(buf)
    return rfm_call(d, put(d, "orders.parquet", buf.getvalue()[: len(buf.getvalue()) // 2]))


@case("path-is-a-directory", "rfm",
      error="error: orders.csv is a directory, not a data file; fix: pass the path of a file "
            "inside it")
def _(d, s):
    (d / "orders.csv").mkdir()
    return rfm_call(d, "orders.csv")


@case("output-exists", "rfm",
      error="error: 'customers.parquet' already exists; fix: pass --overwrite or choose another "
            "--output")
def _(d, s):
    put(d, "customers.parquet", b"an earlier file")
    return rfm_call(d, put(d, "orders.csv", log_text()))


@case("unknown-output-type", "rfm",
      error="error: cannot write 'customers.xlsx': unknown output type; fix: name the output "
            ".parquet or .csv")
def _(d, s):
    args = list(RFM_ARGS)
    args[args.index("customers.parquet")] = "customers.xlsx"
    return rfm_call(d, put(d, "orders.csv", log_text()), args=args)


@case("disk-full", "rfm",
      error="error: cannot write customers.csv: No space left on device [ENOSPC]; fix: free some "
            "disk space, or write the output to a disk with room")
def _(d, s):
    args = list(RFM_ARGS)
    args[args.index("customers.parquet")] = "customers.csv"
    return rfm_call(d, put(d, "orders.csv", log_text()), args=args, patch=disk_full)


# =============================================================== compare
def old_run(d: Path, shared: Shared, name: str = "old") -> str:
    shutil.copytree(shared.run_dir, d / name)
    return name


def _kept(d, shared, result):
    assert result.stdout.startswith("recommendation: keep\n"), result.stdout


@case("run-with-itself", "compare", check=_kept)
def _(d, s):
    return Call(["compare", old_run(d, s), old_run(d, s, "again")])


def _data_compared(d, shared, result):
    assert result.stdout.startswith("recommendation: "), result.stdout
    written = json.loads((d / "cmp" / "compare.json").read_text(encoding="utf-8"))
    assert written["kind"] == "model-vs-data" and written["rows"] == N


@case("run-with-utf-16-data", "compare", check=_data_compared)
def _(d, s):
    return Call(["compare", old_run(d, s), put(d, "new.csv", csv_text(customers()), "utf-16"),
                 "--out", "cmp"])


@case("old-not-a-run-dir", "compare",
      error="error: 'notarun' is not a custseg run directory (it has no model.json); fix: pass "
            "the --out directory of custseg run, or a model.json")
def _(d, s):
    (d / "notarun").mkdir()
    put(d, "notarun/segments.csv", "row,segment\n1,0\n")
    return Call(["compare", "notarun", old_run(d, s)])


def _corrupt_model(d: Path, shared: Shared, run: str, edit) -> None:
    path = d / run / "model.json"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")


@case("old-model-corrupted", "compare",
      error="error: old/model.json failed its checksum: the file was changed or corrupted; fix: "
            "re-create it with custseg run")
def _(d, s):
    old = old_run(d, s)
    _corrupt_model(d, s, old, lambda t: t.replace("0.", "1.", 1))
    return Call(["compare", old, old_run(d, s, "new")])


@case("new-model-truncated", "compare",
      error="error: new/model.json is not valid JSON (truncated or corrupted?): Unterminated "
            "string starting at (line 6, column 5); fix: re-create it with custseg run")
def _(d, s):
    new = old_run(d, s, "new")
    _corrupt_model(d, s, new, lambda t: t[:100])
    return Call(["compare", old_run(d, s), new])


@case("old-model-newer-version", "compare",
      error="error: old/model.json has format version 3, newer than this custseg understands (2); "
            "fix: upgrade custseg")
def _(d, s):
    old = old_run(d, s)
    _corrupt_model(d, s, old, lambda t: t.replace('"format_version": 1', '"format_version": 3'))
    return Call(["compare", old, old_run(d, s, "new")])


@case("new-data-thousands-separators", "compare",
      error="error: column 'CLV' has 1 number with thousands separators (row 3: '1,234.50'); fix: "
            "export plain numbers without separators (1234.5, not 1,234.5)")
def _(d, s):
    return Call(["compare", old_run(d, s),
                 put(d, "new.csv", csv_text(with_cell("CLV", 3, "1,234.50")))])


@case("new-data-empty", "compare",
      error="error: new.csv is empty; fix: check that you picked the right file")
def _(d, s):
    return Call(["compare", old_run(d, s), put(d, "new.csv", b"")])


@case("out-exists", "compare",
      error="error: output directory cmp already exists and is not empty; fix: pass --overwrite "
            "to replace it, or choose another --out")
def _(d, s):
    put(d, "cmp/keep.txt", "an earlier comparison")
    return Call(["compare", old_run(d, s), old_run(d, s, "new"), "--out", "cmp"])


def disk_full_json(monkeypatch) -> None:
    from custseg import io as cio

    def write_json(obj, path):
        with cio.atomic_file(path) as tmp:
            tmp.write_bytes(b'{"kind": ')
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    monkeypatch.setattr(cio, "write_json", write_json)


@case("disk-full", "compare",
      error="error: cannot write cmp (file compare.json): No space left on device [ENOSPC]; fix: "
            "free some disk space, or write the output to a disk with room")
def _(d, s):
    return Call(["compare", old_run(d, s), old_run(d, s, "new"), "--out", "cmp"],
                patch=disk_full_json)


# =================================================================== API
def records(df: pd.DataFrame | None = None) -> list[dict]:
    df = customers(8) if df is None else df
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            for row in df.to_dict("records")]


def body(recs: list[dict] | dict, encoding: str = "utf-8") -> bytes:
    return json.dumps(recs, ensure_ascii=False).encode(encoding)


def _api_same_as_model(df: pd.DataFrame | None = None):
    def check(d, shared, response):
        data = response.json()
        frame = customers(8) if df is None else df
        want, _ = _model(shared).assign(frame)
        got = data["assignments"]
        assert [a["id"] for a in got] == frame["customer_id"].tolist()
        assert [a["segment"] for a in got] == want["segment"].tolist()
        assert [a["distance"] for a in got] == want["distance"].tolist()
    return check


# ---- must succeed
@case("utf-16-body", "api", check=_api_same_as_model())
def _(d, s):
    return Post(body(records(), "utf-16"))


@case("utf-8-bom-body", "api", check=_api_same_as_model())
def _(d, s):
    return Post(codecs.BOM_UTF8 + body(records()))


@case("formula-and-html-ids-echoed-raw", "api",
      check=_api_same_as_model(pd.concat([_formula_df().head(5), _html_df().iloc[[5]]])))
def _(d, s):
    return Post(body(records(pd.concat([_formula_df().head(5), _html_df().iloc[[5]]]))))


@case("numbers-as-text", "api", check=_api_same_as_model())
def _(d, s):
    recs = records()
    for r in recs:
        r["CLV"] = f"{r['CLV']}"
        r["region"] = str(r["region"])
    return Post(body(recs))


def _unseen_warned(d, shared, response):
    data = response.json()
    assert data["assignments"][2]["unfamiliar"] is True
    assert [w["code"] for w in data["warnings"]] == ["unseen-code"]


@case("unknown-category-code", "api", check=_unseen_warned)
def _(d, s):
    recs = records()
    recs[2]["region"] = 7
    return Post(body(recs))


@case("5000-extra-fields", "api", check=_api_same_as_model())
def _(d, s):
    recs = records()
    for r in recs:
        r.update({f"f{i}": i for i in range(5000)})
    return Post(body(recs))


# ---- must fail
def _api_bad(column: str, row: int, value: Any) -> Post:
    recs = records()
    recs[row - 1][column] = value
    return Post(body(recs))


@case("latin-1-body", "api", status=400, code="invalid-json",
      error="the body is not UTF-8 text (byte 0xfc at offset 19); fix: send the JSON encoded as "
            "UTF-8")
def _(d, s):
    return Post(body(records(customers(8)), "latin-1"))


@case("truncated-body", "api", status=400, code="invalid-json",
      error="the body is not valid JSON: Unterminated string starting at (line 1, column 195); "
            "fix: send {\"customers\": [{...}, ...]}, a list of customer objects, or one customer "
            "object")
def _(d, s):
    return Post(body(records())[:200])


@case("mixed-types", "api", code="validation",
      error="column 'CLV' has 1 non-numeric value (row 6: 'about 40'); fix: correct or empty that "
            "cell, or declare the column kind = \"categorical\"")
def _(d, s):
    return _api_bad("CLV", 6, "about 40")


@case("thousands-separators", "api", code="validation",
      error="column 'CLV' has 1 number with thousands separators (row 3: '1,234.50'); fix: export "
            "plain numbers without separators (1234.5, not 1,234.5)")
def _(d, s):
    return _api_bad("CLV", 3, "1,234.50")


@case("decimal-comma", "api", code="validation",
      error="column 'CLV' has 1 number with a decimal comma (row 3: '12,50'); fix: export numbers "
            "with a decimal point (12.5, not 12,5)")
def _(d, s):
    return _api_bad("CLV", 3, "12,50")


@case("nan-text", "api", code="validation",
      error="column 'CLV' has 1 placeholder for a missing or infinite number (row 2: 'NaN'); fix: "
            "leave the cell empty for a missing value and set the column's missing policy")
def _(d, s):
    return _api_bad("CLV", 2, "NaN")


@case("inf-text", "api", code="validation",
      error="column 'CLV' has 1 placeholder for a missing or infinite number (row 2: '-inf'); "
            "fix: leave the cell empty for a missing value and set the column's missing policy")
def _(d, s):
    return _api_bad("CLV", 2, "-inf")


@case("dash-text", "api", code="validation",
      error="column 'CLV' has 1 placeholder for a missing or infinite number (row 2: '-'); fix: "
            "leave the cell empty for a missing value and set the column's missing policy")
def _(d, s):
    return _api_bad("CLV", 2, "-")


@case("negative-clv", "api", code="validation",
      error="column 'CLV' (value) has 1 negative value (row 5: '-25.0'); fix: correct it, or set "
            "role = \"attribute\" if negatives are meaningful")
def _(d, s):
    return _api_bad("CLV", 5, -25.0)


@case("duplicate-ids", "api", code="validation",
      error="id column 'customer_id' has 2 rows sharing an id (row 4: 'C005', row 5: 'C005'); "
            "fix: remove the duplicates or leave the id column out (customers are then numbered)")
def _(d, s):
    return _api_bad("customer_id", 4, "C005")


@case("all-empty-column", "api", code="validation",
      error="column 'CLV' is entirely empty and the model needs it (missing = \"error\"); fix: fill "
            "it")
def _(d, s):
    recs = records()
    for r in recs:
        r["CLV"] = None
    return Post(body(recs))


@case("missing-column", "api", code="validation",
      error="column 'CLV' the model needs is missing from the data (columns there: customer_id, "
            "minutes_watched, region, clv); fix: did you mean 'clv'? rename that column of the "
            "data to 'CLV'")
def _(d, s):
    recs = records()
    for r in recs:
        r["clv"] = r.pop("CLV")
    return Post(body(recs))


@case("one-megabyte-field", "api", code="validation",
      error="column 'CLV' has 1 cell longer than 10,000 characters (row 2); fix: check the file's "
            "quoting and delimiter")
def _(d, s):
    return _api_bad("CLV", 2, "x" * 1_048_576)


@case("wrong-content-type", "api", status=415, code="unsupported-media-type",
      error="the body must be JSON, got content type 'text/csv'; fix: send Content-Type: "
            "application/json")
def _(d, s):
    return Post(csv_text(customers(8)).encode(), content_type="text/csv")


__all__ = ["CASES", "Case", "Call", "Post", "Shared", "SPEC", "customers", "csv_text", "N"]
