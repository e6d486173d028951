"""Tests for custseg.io: readers, formula neutralisation and atomic writers.

Awkward files are written byte by byte in the tests; expected values are worked
out by hand.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pathlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custseg import io as cio
from custseg.errors import InputError, OutputError
from custseg.io import (
    READERS,
    atomic_file,
    atomic_output_dir,
    atomic_write_file,
    check_output_dir,
    file_sha256,
    neutralise_cell,
    neutralise_formulas,
    read_table,
    read_text,
    write_csv,
    write_json,
    write_parquet,
)
from custseg.io.atomic import pid_alive
from custseg.io.csv_reader import keep_text_as_written, read_text_arrow
from custseg.io.sources import NA_OPTIONS
from custseg.io.text import SAMPLE_BYTES


def small_frame() -> pd.DataFrame:
    """Three customers: an int id, a non-ASCII text column and a float with a gap."""
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "city": ["Zürich", "Paris", "Oslo"],
            "clv": [10.5, 20.0, np.nan],
        }
    )


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------- the registry


def test_registry_covers_every_supported_suffix():
    assert sorted(READERS) == sorted(
        [".csv", ".tsv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm", ".xls"]
        + [".jsonl", ".ndjson", ".json", ".duckdb", ".ddb", ".db", ".sqlite", ".sqlite3"]
    )


# ----------------------------------------------------------------- round trips


def test_csv_hand_written(tmp_path):
    path = write(tmp_path / "c.csv", "customer_id,city,clv\n1,Zürich,10.5\n2,Paris,20.0\n3,Oslo,\n")
    pd.testing.assert_frame_equal(read_table(path), small_frame())


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".txt"])
def test_write_csv_then_read(tmp_path, suffix):
    path = tmp_path / f"c{suffix}"
    write_csv(small_frame(), path)
    pd.testing.assert_frame_equal(read_table(path), small_frame())


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path, suffix):
    path = tmp_path / f"c{suffix}"
    write_parquet(small_frame(), path)
    pd.testing.assert_frame_equal(read_table(path), small_frame())


def test_parquet_keeps_raw_values(tmp_path):
    frame = pd.DataFrame({"=x": ["=SUM(A1)", "-cmd"], "n": [1, 2]})
    write_parquet(frame, tmp_path / "raw.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "raw.parquet"), frame)


def test_parquet_named_index_becomes_a_column(tmp_path):
    frame = small_frame().set_index("customer_id")
    frame.to_parquet(tmp_path / "indexed.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "indexed.parquet"), small_frame())


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm"])
def test_excel_round_trip(tmp_path, suffix):
    path = tmp_path / f"c{suffix}"
    small_frame().to_excel(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), small_frame())


def test_excel_sheet_by_name_and_number(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        small_frame().to_excel(writer, sheet_name="customers", index=False)
    pd.testing.assert_frame_equal(read_table(path, sheet="customers"), small_frame())
    pd.testing.assert_frame_equal(read_table(path, sheet=1), small_frame())
    pd.testing.assert_frame_equal(read_table(path, sheet="1"), small_frame())  # from a CLI
    # default: the first sheet holding a table; a one-column notes sheet is not one
    frame = read_table(path)
    pd.testing.assert_frame_equal(frame, small_frame())
    assert frame.attrs["read_notes"] == [
        "read sheet 'customers': the first sheet, 'notes', holds no table (pass --sheet to "
        "choose another)"]


def test_excel_cover_page_and_title_rows(tmp_path):
    path = tmp_path / "export.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"Customer export": ["Prepared 2026-11-30", "Confidential"]}).to_excel(
            writer, sheet_name="Cover", index=False)
        pd.DataFrame([["Customers by region", None, None], ["as of November", None, None],
                      ["customer_id", "region", "CLV"], ["c1", "EU", 10.5],
                      ["c2", "US", 3.0]]).to_excel(writer, sheet_name="Data", index=False,
                                                   header=False)
    frame = read_table(path)
    assert frame.columns.tolist() == ["customer_id", "region", "CLV"]
    assert frame["customer_id"].tolist() == ["c1", "c2"] and frame["CLV"].tolist() == [10.5, 3.0]
    assert frame.attrs["read_notes"] == [
        "read sheet 'Data': the first sheet, 'Cover', holds no table (pass --sheet to choose "
        "another)",
        f"sheet 'Data' of {path}: the header is on row 3; the 2 rows above it (titles) left out"]
    assert read_table(path, sheet="Data").columns.tolist() == ["customer_id", "region", "CLV"]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json"])
def test_json_lines(tmp_path, suffix):
    text = (
        '{"customer_id": 1, "city": "Zürich", "clv": 10.5}\n'
        "\n"
        '{"customer_id": 2, "city": "Paris", "clv": 20.0}\r\n'
        '{"customer_id": 3, "city": "Oslo", "clv": null}\n'
    )
    pd.testing.assert_frame_equal(read_table(write(tmp_path / f"c{suffix}", text)), small_frame())


def test_json_array_of_records(tmp_path):
    records = [
        {"customer_id": 1, "city": "Zürich", "clv": 10.5},
        {"customer_id": 2, "city": "Paris", "clv": 20.0},
        {"customer_id": 3, "city": "Oslo"},  # a missing key is a missing value
    ]
    path = write(tmp_path / "c.json", json.dumps(records, indent=2, ensure_ascii=False))
    pd.testing.assert_frame_equal(read_table(path), small_frame())


def make_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE customers (customer_id BIGINT, city VARCHAR, clv DOUBLE)")
        con.execute("INSERT INTO customers VALUES (1, 'Zürich', 10.5), (2, 'Paris', 20.0)")
        con.execute("INSERT INTO customers VALUES (3, 'Oslo', NULL)")
    return path


def make_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE customers (customer_id INTEGER, city TEXT, clv REAL)")
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(1, "Zürich", 10.5), (2, "Paris", 20.0), (3, "Oslo", None)],
        )
    con.close()
    return path


@pytest.fixture(scope="module")
def database_files(tmp_path_factory) -> dict[str, Path]:
    """One DuckDB and one SQLite file holding small_frame() as table customers."""
    folder = tmp_path_factory.mktemp("databases")
    return {
        "duckdb": make_duckdb(folder / "customers.duckdb"),
        "sqlite": make_sqlite(folder / "customers.sqlite"),
    }


@pytest.fixture
def database(database_files, tmp_path):
    """Copy the DuckDB or SQLite file to ``tmp_path / name``."""

    def copy(engine: str, name: str) -> Path:
        return Path(shutil.copyfile(database_files[engine], tmp_path / name))

    return copy


QUERY = "SELECT * FROM customers ORDER BY customer_id"


@pytest.mark.parametrize(
    ("name", "engine"),
    [
        ("c.duckdb", "duckdb"),
        ("c.ddb", "duckdb"),
        ("duck.db", "duckdb"),
        ("lite.db", "sqlite"),
        ("c.sqlite", "sqlite"),
        ("c.sqlite3", "sqlite"),
    ],
)
def test_database_query(database, name, engine):
    pd.testing.assert_frame_equal(read_table(database(engine, name), sql=QUERY), small_frame())


def test_query_may_start_with_a_comment_or_with(database):
    path = database("duckdb", "c.duckdb")
    sql = "-- the best\nWITH t AS (SELECT * FROM customers) SELECT city FROM t WHERE clv > 15"
    assert read_table(path, sql=sql)["city"].tolist() == ["Paris"]


def test_duckdb_query_cannot_read_other_files(database, tmp_path):
    path = database("duckdb", "c.duckdb")
    other = write(tmp_path / "secret.csv", "a\n1\n")
    with pytest.raises(InputError, match=r"the query on .* failed: Permission Error") as err:
        read_table(path, sql=f"SELECT * FROM read_csv('{other}')")
    one_line(err)


# ------------------------------------------------------------------------ encodings


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param("city;n\nZürich;1\n".encode("latin-1"), id="latin-1"),
        pytest.param("city;n\nZürich;1\n".encode("cp1252"), id="cp1252"),
        pytest.param("city;n\nZürich;1\n".encode(), id="utf-8"),
        pytest.param("city;n\nZürich;1\n".encode("utf-8-sig"), id="utf-8-bom"),
        pytest.param("city;n\r\nZürich;1\r\n".encode("utf-16"), id="utf-16-native-bom"),
        pytest.param(b"\xff\xfe" + "city;n\nZürich;1\n".encode("utf-16-le"), id="utf-16-le"),
        pytest.param(b"\xfe\xff" + "city;n\nZürich;1\n".encode("utf-16-be"), id="utf-16-be"),
    ],
)
def test_encodings_are_detected(tmp_path, encoded):
    frame = read_table(write(tmp_path / "e.csv", encoded))
    assert frame.columns.tolist() == ["city", "n"]  # no BOM glued to "city"
    assert frame.loc[0, "city"] == "Zürich"
    assert frame.loc[0, "n"] == 1


def test_cp1252_euro_sign(tmp_path):
    path = write(tmp_path / "e.csv", "item,price\nBuch,12 €\n".encode("cp1252"))
    assert read_table(path).loc[0, "price"] == "12 €"


def test_forced_encoding(tmp_path):
    path = write(tmp_path / "e.csv", "city,n\nZürich,1\n".encode("latin-1"))
    assert read_table(path, encoding="latin-1").loc[0, "city"] == "Zürich"
    # Forced utf-8 on a file with a BOM: the BOM is not part of the first name.
    bom = write(tmp_path / "bom.csv", "city,n\nZürich,1\n".encode("utf-8-sig"))
    assert read_table(bom, encoding="utf-8").columns.tolist() == ["city", "n"]


# ---------------------------------------------------------------- delimiters, quoting


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_delimiters(tmp_path, sep):
    path = write(tmp_path / "d.txt", f"id{sep}name{sep}amount\n1{sep}Ann Lee{sep}2.5\n2{sep}Bo{sep}3\n")
    frame = read_table(path)
    assert frame.columns.tolist() == ["id", "name", "amount"]
    assert frame["name"].tolist() == ["Ann Lee", "Bo"]
    assert frame["amount"].tolist() == [2.5, 3.0]


def test_single_column_with_spaces_stays_one_column(tmp_path):
    frame = read_table(write(tmp_path / "names.csv", "full name\nAnn Lee\nBo Ek\n"))
    assert frame.columns.tolist() == ["full name"]
    assert frame["full name"].tolist() == ["Ann Lee", "Bo Ek"]


def test_semicolon_with_decimal_commas_stays_text(tmp_path):
    # The validator, not the reader, reports "2,5" as not a number.
    frame = read_table(write(tmp_path / "d.csv", "id;amount\n1;2,5\n2;3,75\n"))
    assert frame["amount"].tolist() == ["2,5", "3,75"]


def test_whitespace_padded_columns(tmp_path):
    text = (
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  1   11.77\r\n"
        " 00002 19970112  1   12.00\r\n"
        " 00002 19970112  5   77.00\r\n"
    )
    frame = read_table(write(tmp_path / "cdnow.txt", text))
    expected = pd.DataFrame(
        {
            "customer_id": pd.array(["00001", "00002", "00002"], dtype="str"),  # as written
            "date": [19970101, 19970112, 19970112],
            "number_of_cds": [1, 1, 5],
            "dollar_value": [11.77, 12.0, 77.0],
        }
    )
    pd.testing.assert_frame_equal(frame, expected)


def test_crlf_and_quoted_embedded_newlines(tmp_path):
    text = 'id,note,v\r\n1,"line one\r\nline two",5\r\n2,"say ""hi"", ok",6\r\n'
    frame = read_table(write(tmp_path / "q.csv", text))
    assert frame["note"].tolist() == ["line one\r\nline two", 'say "hi", ok']
    assert frame["v"].tolist() == [5, 6]


def test_only_empty_cells_are_missing(tmp_path):
    frame = read_table(write(tmp_path / "na.csv", "a,b,c\nNaN,inf,-\nn/a,,NULL\n"))
    assert frame["a"].tolist() == ["NaN", "n/a"]
    assert frame["c"].tolist() == ["-", "NULL"]
    assert frame.loc[0, "b"] == "inf"
    assert pd.isna(frame.loc[1, "b"])


def test_infinity_words_stay_text_among_numbers(tmp_path):
    # pandas alone would read these as float infinity; "NaN" it keeps as text.
    text = "a,b,c\n1.5,-Infinity,NaN\ninf,2,1\n1e500,,2\n"
    frame = read_table(write(tmp_path / "inf.csv", text))
    assert frame["a"].tolist() == ["1.5", "inf", "1e500"]
    assert frame.loc[0, "b"] == "-Infinity"
    assert frame["c"].tolist() == ["NaN", "1", "2"]


def test_stray_text_keeps_the_column_text(tmp_path):
    frame = read_table(write(tmp_path / "t.csv", "x,y\n1,1\nabc,2\n"))
    assert frame["x"].tolist() == ["1", "abc"]
    assert frame["y"].dtype == np.int64


def test_huge_field_and_many_columns_do_not_crash(tmp_path):
    big = "a" * 1_200_000
    frame = read_table(write(tmp_path / "big.csv", f'id,text\n1,"{big}"\n2,b\n'))
    assert len(frame.loc[0, "text"]) == 1_200_000
    names = ",".join(f"c{i}" for i in range(5001))
    values = ",".join("1" for _ in range(5001))
    wide = read_table(write(tmp_path / "wide.csv", f"{names}\n{values}\n"))
    assert wide.shape == (1, 5001)


# ------------------------------------------------------------------------ read errors

RAGGED_FIX = r"quote fields that contain the comma ','"


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", b"", r"empty\.csv is empty"),
        ("blank.csv", b"  \n\n \r\n", r"blank\.csv is empty"),
        ("bom.csv", b"\xef\xbb\xbf", r"bom\.csv is empty"),
        ("hdr.csv", b"a,b\n", r"hdr\.csv has a header but no data rows"),
        ("hdr2.csv", b"a,b\n\n\n", r"has a header but no data rows"),
        ("bin.csv", b"a,b\n\x00\x01\x02\x03", r"bin\.csv looks binary, not text; fix: .*utf-16"),
        ("pq.csv", b"PAR1\x15\x04\x00\x00", r"looks binary, not text; fix: .*Parquet"),
        ("zip.csv", b"PK\x03\x04\x00\x00", r"looks binary, not text; fix: .*Excel"),
        (
            "ragged.csv",
            b"a,b\n1,2\n3,4,5\n",
            rf"line 3 of .*ragged\.csv has 3 fields but the header has 2; fix: {RAGGED_FIX}",
        ),
        (
            "wide_rows.csv",
            b"a,b\n1,2,3\n4,5,6\n",
            rf"line 2 of .* has 3 fields but the header has 2; fix: {RAGGED_FIX}",
        ),
        (
            "semi.csv",
            b"a;b\n1;2\n3;4;5\n",
            r"line 3 of .* has 3 fields but the header has 2; fix: .*semicolon ';'",
        ),
        (
            "tabs.tsv",
            b"a\tb\n1\t2\n3\t4\t5\n",
            r"line 3 of .* has 3 fields but the header has 2; fix: quote fields that contain "
            r"the tab '\\t', or remove",
        ),
        ("quote.csv", b'a,b\n1,2\n"3,4\n', r"unclosed quote starting at line 3"),
        (
            "dup.csv",
            b"a,b,a,c,b\n1,2,3,4,5\n",
            r"dup\.csv has duplicate column names: 'a' \(columns 1, 3\), 'b' \(columns 2, 5\)",
        ),
        ("x.unknown", b"a\n1\n", r"unsupported file type '\.unknown'; fix: .*\.csv, .*\.parquet"),
        ("noext", b"a\n1\n", r"unsupported file type '\(no suffix\)'"),
        ("bad.parquet", b"PAR1 this is not parquet", r"not a readable Parquet file \(truncated"),
        ("bad.xlsx", b"not a zip file at all", r"bad\.xlsx is not a readable Excel file"),
        ("bad.jsonl", b'{"a": 1}\n{"a": 2,}\n', r"line 2 of .*bad\.jsonl is not valid JSON"),
        ("list.jsonl", b'{"a": 1}\n\n[1, 2]\n', r"line 3 of .* is a JSON list, not an object"),
        ("bad.json", b'[{"a": 1},\n {"a" 2}]', r"is not valid JSON: .* at line 2, column 7"),
        (
            "pretty.json",
            b'{\n  "customers": [],\n  "n": 0\n}\n',
            r"pretty\.json holds a single JSON object \(keys: customers, n\), not one record",
        ),
        ("ints.json", b"[1, 2]", r"item 0 of .*ints\.json is a JSON int, not an object"),
        ("none.json", b"[]", r"none\.json has no data rows"),
        ("text.db", b"id,name\n1,x\n", r"is not a DuckDB or SQLite database"),
    ],
)
def test_read_errors(tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    with pytest.raises(InputError, match=match) as err:
        read_table(path)
    one_line(err)


# ------------------------------------------- rows with more or fewer fields than the header

HEADER5 = "customer_id,minutes,CLV,region,channel\n"
ROWS10 = "".join(f"c{i},{i},{i}.5,1,2\n" for i in range(1, 11))  # lines 2 to 11
SHORT_FIX = (r"fix: add the missing fields \(an empty field still needs its comma ',', "
             r"e\.g\. \"c1,,5\"\), or rejoin a row that was broken across lines")
LONG_FIX = (r"fix: quote fields that contain the comma ',' \(e\.g\. \"Smith, John\"\), "
            r"or remove the extra delimiter")


def _read_whole(path):
    return read_table(path)


def _read_in_chunks(path):
    return list(cio.iter_table(path, chunksize=3))


@pytest.mark.parametrize("read", [_read_whole, _read_in_chunks], ids=["read_table", "iter_table"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"], ids=["arrow", "pandas"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize(("content", "line", "fields"), [
    (HEADER5 + ROWS10 + "c999,1,2\n", 12, 3),  # the example: short, on the last line
    (HEADER5 + ROWS10 + "c999,1,2", 12, 3),  # ... with no newline at the end
    (HEADER5 + ROWS10 + "c999,1,2,3\n" + ROWS10, 12, 4),  # one field short, in the middle
    (HEADER5 + "c999,1,2\n" + ROWS10, 2, 3),  # the first data row
    (HEADER5 + ROWS10 + "c999,1,2,3,4,5\n" + ROWS10, 12, 6),  # long, in the middle
    (HEADER5 + ROWS10 + "c999,1,2,3,4,5\n", 12, 6),  # long, on the last line
    # a quoted field holding the delimiter and a newline is one field; blank lines are lines
    (HEADER5 + 'c0,1,"2,5",1,"two\nlines"\n\n  \n' + ROWS10 + "c999,1\n", 16, 2),
    (HEADER5 + 'c0,1,"2,5",1,"two\nlines"\n\n' + ROWS10 + "c999,1,2,3,4,5\n", 15, 6),
], ids=["short-last", "short-last-no-newline", "short-middle", "short-first", "long-middle",
        "long-last", "short-after-quoted-newline", "long-after-quoted-newline"])
def test_a_row_with_more_or_fewer_fields_stops_the_reading(tmp_path, read, encoding, newline, content,
                                                           line, fields):
    content = content.replace("\n", newline)
    if encoding == "cp1252":  # not UTF-8: read by pandas, which fills a short row with empty cells
        content = content.replace("c1,", "cé1,", 1)
    path = write(tmp_path / "t.csv", content.encode(encoding))
    fix = SHORT_FIX if fields < 5 else LONG_FIX
    with pytest.raises(InputError, match=rf"^line {line} of .*t\.csv has {fields} fields but the header "
                                         rf"has 5; {fix}$") as err:
        read(path)
    one_line(err)


def test_the_arrow_reader_stops_on_a_short_row_itself(tmp_path, monkeypatch):
    path = write(tmp_path / "t.csv", HEADER5 + ROWS10 + "c999,1,2\n")
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("pandas read the file"))
    with pytest.raises(InputError, match=rf"^line 12 of .* has 3 fields but the header has 5; {SHORT_FIX}$"):
        read_table(path)


@pytest.mark.parametrize(("name", "content", "match"), [
    ("t.tsv", "a\tb\tc\n1\t2\t3\n4\t5\n",
     r"^line 3 of .* has 2 fields but the header has 3; fix: add the missing fields \(an empty field "
     r"still needs its tab '\\t'\), or rejoin a row that was broken across lines$"),
    ("t.csv", "a;b;c\n1;2;3\n4;5\n",
     r"^line 3 of .* has 2 fields but the header has 3; fix: .*its semicolon ';', e\.g\. \"c1;;5\"\)"),
    ("t.txt", "  a  b  c\n" + "  1  2.5  x\n" * 60 + "  4  5\n",
     r"^line 62 of .* has 2 fields but the header has 3; fix: fill in the missing values \(a "
     r"whitespace-aligned file cannot hold an empty value; save it as CSV with empty fields instead\)$"),
    ("t.txt", "  a  b  c\n" + "  1  2.5  x\n" * 60 + '  4  5  "New York"  7\n',
     r"^line 62 of .* has 4 fields but the header has 3; fix: quote values that contain spaces"),
])
def test_short_rows_with_other_delimiters(tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    for read in (_read_whole, _read_in_chunks):
        with pytest.raises(InputError, match=match) as err:
            read(path)
        one_line(err)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"], ids=["arrow", "pandas"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("content", [
    HEADER5 + 'c0,1,"2,5",1,"two\nlines, and a comma"\n' + ROWS10,
    HEADER5 + ROWS10 + "\n\n   \n" + ROWS10 + "\n",  # blank lines (and one of spaces) are skipped
    HEADER5 + "c0,,,,\n" + ROWS10 + "c11,1,2.5,,\n",  # empty fields, but all of them there
    HEADER5 + ROWS10 + 'c11,1,2.5,1,""\n',  # a quoted empty last field
], ids=["quoted-delimiter-and-newline", "blank-lines", "empty-fields", "quoted-empty-field"])
def test_rows_with_the_header_s_field_count_are_read_as_pandas_reads_them(tmp_path, encoding, newline,
                                                                         content):
    content = content.replace("\n", newline)
    if encoding == "cp1252":
        content = content.replace("c1,", "cé1,", 1)
    path = write(tmp_path / "t.csv", content.encode(encoding))
    options = {"encoding": encoding, "keep_default_na": False, "na_values": [""]}
    pd.testing.assert_frame_equal(read_table(path), pd.read_csv(path, **options))
    with pd.read_csv(path, chunksize=3, **options) as chunks:  # each chunk is typed on its own
        want = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(pd.concat(_read_in_chunks(path), ignore_index=True), want)


def test_missing_file_suggests_a_close_name(tmp_path):
    write(tmp_path / "customers.csv", "a\n1\n")
    with pytest.raises(InputError, match=r"file not found: .*customer\.csv.*customers\.csv") as err:
        read_table(tmp_path / "customer.csv")
    one_line(err)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match=r"file not found: .*; fix: check the path") as err:
        read_table(tmp_path / "nowhere" / "x.csv")
    one_line(err)


@pytest.mark.parametrize(("name", "options", "match"), [
    ("c.csv", {"sql": "SELECT 1"},
     r"--sql applies only to \.duckdb, \.ddb, \.db, \.sqlite, \.sqlite3 files, not to .*c\.csv; "
     r"fix: remove --sql"),
    ("c.parquet", {"encoding": "latin-1"},
     r"--encoding applies only to \.csv, \.tsv, \.txt, \.jsonl, \.ndjson, \.json files, not to "
     r".*c\.parquet; fix: remove --encoding"),
])
def test_options_that_do_not_apply_are_refused_whole_and_in_chunks(tmp_path, name, options, match):
    path = tmp_path / name
    (write_parquet if name.endswith(".parquet") else write_csv)(small_frame(), path)
    for read in (read_table, lambda p, **o: next(cio.iter_table(p, **o))):
        with pytest.raises(InputError, match=match) as err:
            read(path, **options)
        one_line(err)


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "data.csv").mkdir()
    with pytest.raises(InputError, match=r"data\.csv is a directory, not a data file") as err:
        read_table(tmp_path / "data.csv")
    one_line(err)


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path / "secret.csv", "a\n1\n")
    real_open = pathlib.Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", denied)
    with pytest.raises(InputError, match=r"cannot read .*secret\.csv: permission denied") as err:
        read_table(path)
    one_line(err)


def test_forced_encoding_that_does_not_fit(tmp_path):
    path = write(tmp_path / "l1.csv", "city,n\nOslo,1\nZürich,2\n".encode("latin-1"))
    with pytest.raises(
        InputError,
        match=r"cannot decode .*l1\.csv as utf-8 at line 3, column 2 \(byte offset 15\); "
        r"fix: pass --encoding latin-1 \(or cp1252\)",
    ) as err:
        read_table(path, encoding="utf-8")
    one_line(err)


def test_unknown_encoding(tmp_path):
    path = write(tmp_path / "c.csv", "a\n1\n")
    with pytest.raises(InputError, match=r"unknown encoding 'utf-99'") as err:
        read_table(path, encoding="utf-99")
    one_line(err)


def test_truncated_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(small_frame(), path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(InputError, match=r"is not a readable Parquet file \(truncated") as err:
        read_table(path)
    one_line(err)


def test_excel_errors(tmp_path):
    path = tmp_path / "book.xlsx"
    small_frame().to_excel(path, index=False, sheet_name="customers")
    with pytest.raises(InputError, match=r"no sheet named 'nope' \(sheets: 'customers'\)"):
        read_table(path, sheet="nope")
    with pytest.raises(InputError, match=r"no sheet number 3 \(it has 1"):
        read_table(path, sheet=3)
    truncated = write(tmp_path / "cut.xlsx", path.read_bytes()[:300])
    with pytest.raises(InputError, match=r"cut\.xlsx is not a readable Excel file") as err:
        read_table(truncated)
    one_line(err)


def test_excel_header_only_and_duplicates(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": [], "b": []}).to_excel(writer, sheet_name="hdr", index=False)
        pd.DataFrame([[1, 2]], columns=["a", "a"]).to_excel(writer, sheet_name="dup", index=False)
    with pytest.raises(InputError, match=r"sheet 'hdr' of .* has a header but no data rows"):
        read_table(path, sheet="hdr")
    with pytest.raises(InputError, match=r"sheet 'dup' .* duplicate column names: 'a'"):
        read_table(path, sheet="dup")


def test_old_xls_needs_xlrd(tmp_path):
    pytest.importorskip("pandas")  # keep the import style uniform
    try:
        import xlrd  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("xlrd is installed; the missing-package message cannot be shown")
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    with pytest.raises(InputError, match=r"needs an optional package.*pip install xlrd") as err:
        read_table(write(tmp_path / "old.xls", ole))
    one_line(err)


@pytest.mark.parametrize(
    ("option", "match"),
    [
        (
            {"sql": "SELECT 1"},
            r"--sql applies only to \.duckdb, .*\.sqlite3 files.*fix: remove --sql",
        ),
        ({"sheet": "x"}, r"--sheet applies only to \.xlsx, \.xlsm, \.xls files"),
    ],
)
def test_options_that_do_not_apply(tmp_path, option, match):
    path = write(tmp_path / "c.csv", "a\n1\n")
    with pytest.raises(InputError, match=match) as err:
        read_table(path, **option)
    one_line(err)


def test_encoding_does_not_apply_to_parquet(tmp_path):
    write_parquet(small_frame(), tmp_path / "c.parquet")
    with pytest.raises(InputError, match=r"--encoding applies only to .*\.csv"):
        read_table(tmp_path / "c.parquet", encoding="latin-1")


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
@pytest.mark.parametrize(
    ("sql", "match"),
    [
        (None, r"is a (DuckDB|SQLite) database, so it needs a query \(tables: customers\)"),
        ("DROP TABLE customers", r"--sql must be a SELECT query, got 'DROP TABLE customers'"),
        ("SELECT * FROM nope", r"the query on .* failed: .*nope"),
        ("SELECT * FROM customers WHERE clv > 100", r"the query returned no rows"),
    ],
)
def test_database_errors(database, engine, sql, match):
    path = database(engine, "c.db")
    with pytest.raises(InputError, match=match) as err:
        read_table(path, sql=sql)
    one_line(err)


# ------------------------------------------------------------------- neutralisation


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),  # a string cell, so neutralised even though it looks numeric
        ("-5", "-5"),
        ("-12.5", "-12.5"),
        ("-1e3", "-1e3"),
        ("-.5", "-.5"),
        ("-x", "'-x"),
        ("-cmd", "'-cmd"),
        ("-5 apples", "'-5 apples"),
        ("-", "'-"),
        ("@foo", "'@foo"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=already", "'=already"),
        (12, 12),
        (-3.5, -3.5),
        (None, None),
    ],
)
def test_neutralise_cell(cell, expected):
    assert neutralise_cell(cell) == expected


@given(st.text())
def test_neutralise_cell_twice_is_once(text):
    once = neutralise_cell(text)
    assert neutralise_cell(once) == once


def test_neutralise_formulas_frame():
    frame = pd.DataFrame(
        {
            "=name": ["=cmd", "Ann", None],
            "n": [1, -2, 3],
            "mixed": pd.Series(["@x", 5, "-7"], dtype=object),
            "seg": pd.Categorical(["+a", "b", "+a"]),
        }
    )
    before = frame.copy()
    out = neutralise_formulas(frame)
    expected = pd.DataFrame(
        {
            "'=name": ["'=cmd", "Ann", None],
            "n": [1, -2, 3],
            "mixed": pd.Series(["'@x", 5, "-7"], dtype=object),
            "seg": pd.Categorical(["'+a", "b", "'+a"]),
        }
    )
    pd.testing.assert_frame_equal(out, expected)
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified
    pd.testing.assert_frame_equal(neutralise_formulas(out), out)


# ------------------------------------------------------------------------- writers


def test_write_csv_exact_bytes(tmp_path):
    frame = pd.DataFrame({"id": [1, 2], "name": ["=cmd", "Zürich"], "v": [0.1, np.nan]})
    write_csv(frame, tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_bytes() == "id,name,v\n1,'=cmd,0.1\n2,Zürich,\n".encode()


def test_write_csv_quotes_when_needed(tmp_path):
    frame = pd.DataFrame({"id": [1], "note": ['say "hi", ok'], "flag": [True]})
    write_csv(frame, tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text("utf-8") == 'id,note,flag\n1,"say ""hi"", ok",True\n'


def test_write_csv_raw_values(tmp_path):
    write_csv(pd.DataFrame({"a": ["=x"], "b": [1]}), tmp_path / "o.csv", neutralise=False)
    assert (tmp_path / "o.csv").read_text("utf-8") == "a,b\n=x,1\n"


def test_write_csv_floats_round_trip_and_bytes_repeat(tmp_path):
    frame = pd.DataFrame({"f": [0.1, 1e-07, 5.0, 1 / 3, -0.0, 1e20], "i": range(6)})
    write_csv(frame, tmp_path / "a.csv")
    write_csv(frame.copy(), tmp_path / "b.csv")
    text = (tmp_path / "a.csv").read_text("utf-8")
    assert text.splitlines()[1:4] == ["0.1,0", "1e-07,1", "5.0,2"]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    pd.testing.assert_frame_equal(read_table(tmp_path / "a.csv"), frame)



def test_write_csv_text_column_in_several_arrow_chunks(tmp_path):
    # a column read from Parquet row groups is one pandas column over several Arrow chunks
    import pyarrow as pa

    chunked = pa.chunked_array([["Low value", "Mid"], ["Low value", None], ["High"] * 4])
    frame = pd.DataFrame({"row": range(1, 9), "name": pd.Series(pd.array(chunked, dtype="str"))})
    assert isinstance(pa.array(frame["name"], from_pandas=True), pa.ChunkedArray)
    write_csv(frame, tmp_path / "o.csv")
    assert (tmp_path / "o.csv").read_text("utf-8").splitlines() == [
        "row,name", "1,Low value", "2,Mid", "3,Low value", "4,", "5,High", "6,High",
        "7,High", "8,High"]

cells = st.one_of(st.none(), st.text(max_size=6))


@settings(max_examples=25, deadline=None)
@given(
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=5),
    data=st.data(),
)
def test_fast_csv_path_matches_pandas(tmp_path_factory, floats, data):
    n = len(floats)
    texts = data.draw(st.lists(cells, min_size=n, max_size=n))
    ints = data.draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    frame = pd.DataFrame({"f": np.array(floats, dtype=float), "s": pd.Series(texts, dtype="str"), "i": ints})
    path = tmp_path_factory.mktemp("csv") / "o.csv"
    write_csv(frame, path, neutralise=False)
    # a carriage return in a cell: every text field quoted (see csv_quoting)
    expected = frame.to_csv(index=False, lineterminator="\n",
                            quoting=cio.csv_quoting(frame)).encode("utf-8")
    assert path.read_bytes() == expected


def test_write_json_exact_text(tmp_path):
    obj = {"b": np.int64(1), "a": ["Zürich", np.float64(2.5), None], "ok": np.bool_(True)}
    write_json(obj, tmp_path / "o.json")
    assert (tmp_path / "o.json").read_text("utf-8") == (
        '{\n  "b": 1,\n  "a": [\n    "Zürich",\n    2.5,\n    null\n  ],\n  "ok": true\n}\n'
    )


def test_write_json_rejects_nan(tmp_path):
    with pytest.raises(ValueError, match=r"\$\.a\[1\] is NaN or infinite.*None"):
        write_json({"a": [1.0, float("nan")]}, tmp_path / "o.json")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_file(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    atomic_write_file(path, "a\r\nb")
    assert path.read_bytes() == b"a\r\nb"  # written verbatim
    atomic_write_file(path, b"new")
    assert path.read_bytes() == b"new"
    with pytest.raises(OutputError, match=r"f\.txt already exists"):
        atomic_write_file(path, b"x", overwrite=False)
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_atomic_write_file_disk_full(tmp_path, monkeypatch):
    path = write(tmp_path / "f.txt", "old")
    monkeypatch.setattr(pathlib.Path, "write_bytes", enospc)
    with pytest.raises(OutputError, match=r"cannot write .*f\.txt: No space left") as err:
        atomic_write_file(path, "new")
    one_line(err)
    assert path.read_text() == "old"
    assert names(tmp_path) == ["f.txt"]


def test_atomic_file_failure_keeps_the_old_file(tmp_path):
    path = write(tmp_path / "f.txt", "old")
    with pytest.raises(RuntimeError), atomic_file(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_read_text(tmp_path):
    path = write(tmp_path / "spec.toml", '\ufeff[columns.CLV]\r\nrole = "value"  # Zürich\r\n')
    assert read_text(path) == '[columns.CLV]\nrole = "value"  # Zürich\n'
    assert read_text(write(tmp_path / "empty.toml", "")) == ""
    latin = write(tmp_path / "l1.toml", "# Zürich\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"l1\.toml is not valid UTF-8 text at line 1, column 4"):
        read_text(latin)
    assert read_text(latin, encoding="latin-1") == "# Zürich\n"
    with pytest.raises(InputError, match=r"file not found: .*nope\.toml"):
        read_text(tmp_path / "nope.toml")


def test_file_sha256(tmp_path):
    path = write(tmp_path / "abc", b"abc")
    assert file_sha256(path) == ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert file_sha256(path) == hashlib.sha256(b"abc").hexdigest()


# ---------------------------------------------------------------- atomic run folder


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_output_dir_success(tmp_path):
    target = tmp_path / "runs" / "x"  # "runs" does not exist yet
    with atomic_output_dir(target) as work:
        assert work.parent == target.parent
        assert work.name.startswith(f".x.partial-{os.getpid()}-")
        assert not target.exists()
        (work / "labels.csv").write_text("id\n1\n")
    assert names(target) == ["labels.csv"]
    assert names(target.parent) == ["x"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_output_dir_failure_leaves_nothing(tmp_path, error):
    target = tmp_path / "x"
    with pytest.raises(error), atomic_output_dir(target) as work:
        (work / "half.csv").write_text("id\n")
        raise error()
    assert names(tmp_path) == []


def test_output_dir_exists(tmp_path):
    target = tmp_path / "x"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(
        OutputError,
        match=r"output directory .*x already exists and is not empty; "
        r"fix: pass --overwrite to replace it, or choose another --out",
    ) as err:
        with atomic_output_dir(target):
            pass  # pragma: no cover
    one_line(err)
    assert names(tmp_path) == ["x"]
    write(tmp_path / "f", "file")
    with pytest.raises(OutputError, match=r"output directory .*f is a file; fix: .*--overwrite"):
        with atomic_output_dir(tmp_path / "f"):
            pass  # pragma: no cover


def test_output_dir_empty_existing_dir_is_fine(tmp_path):
    (tmp_path / "x").mkdir()
    with atomic_output_dir(tmp_path / "x") as work:
        (work / "a").write_text("1")
    assert names(tmp_path / "x") == ["a"]


def test_output_dir_overwrite_replaces_only_at_the_end(tmp_path):
    target = tmp_path / "x"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_output_dir(target, overwrite=True) as work:
        (work / "new.txt").write_text("new")
        assert names(target) == ["old.txt"]  # the old run is intact meanwhile
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["x"]  # no .x.old-* or .x.partial-* left


def test_output_dir_overwrite_failure_keeps_the_old_run(tmp_path):
    target = tmp_path / "x"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_output_dir(target, overwrite=True) as work:
        (work / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert names(target) == ["old.txt"]
    assert names(tmp_path) == ["x"]


def test_output_dir_overwrite_a_file(tmp_path):
    write(tmp_path / "x", "a file")
    with atomic_output_dir(tmp_path / "x", overwrite=True) as work:
        (work / "a").write_text("1")
    assert names(tmp_path / "x") == ["a"]


def test_output_dir_cleans_stale_temporaries(tmp_path):
    dead = dead_pid()
    stale = tmp_path / f".x.partial-{dead}-0badc0de"
    stale.mkdir()
    (stale / "half.csv").write_text("id\n")
    live = tmp_path / f".x.partial-{os.getpid()}-00000000"  # a run still going on
    live.mkdir()
    other = tmp_path / f".y.partial-{dead}-0badc0de"  # belongs to another output
    other.mkdir()
    with atomic_output_dir(tmp_path / "x") as work:
        assert not stale.exists()
        assert live.exists() and other.exists()
        (work / "a").write_text("1")
    assert names(tmp_path) == sorted([live.name, other.name, "x"])


def test_output_dir_restores_an_old_run_from_a_killed_swap(tmp_path):
    # Killed after moving the old run aside but before moving the new one in.
    old = tmp_path / f".x.old-{dead_pid()}-0badc0de"
    old.mkdir()
    (old / "old.txt").write_text("old")
    with pytest.raises(OutputError, match="already exists and is not empty"):
        with atomic_output_dir(tmp_path / "x"):
            pass  # pragma: no cover
    assert names(tmp_path / "x") == ["old.txt"]


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_output_dir_disk_full_while_writing(tmp_path, monkeypatch):
    target = tmp_path / "x"
    monkeypatch.setattr(pathlib.Path, "write_bytes", enospc)
    with pytest.raises(
        OutputError,
        match=r"cannot write .*x \(file model\.json\): No space left on device \[ENOSPC\]; "
        r"fix: free some disk space",
    ) as err:
        with atomic_output_dir(target) as work:
            (work / "labels.csv").write_text("id\n1\n")
            write_json({"k": 2}, work / "model.json")
    assert ".partial" not in one_line(err)
    assert names(tmp_path) == []


def test_output_dir_raw_oserror_in_the_block(tmp_path):
    with pytest.raises(OutputError, match=r"cannot write .*x: No space left on device") as err:
        with atomic_output_dir(tmp_path / "x"):
            enospc()
    one_line(err)
    assert names(tmp_path) == []


def test_output_dir_unrelated_oserror_passes_through(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_output_dir(tmp_path / "x"):
            (tmp_path / "no-such-input.csv").read_text()
    assert names(tmp_path) == []


def test_output_dir_parent_is_a_file(tmp_path):
    write(tmp_path / "f", "a file")
    with pytest.raises(OutputError, match=r"cannot create output directory .*x: .*f is a file"):
        check_output_dir(tmp_path / "f" / "sub" / "x")
    with pytest.raises(OutputError, match=r"cannot create .*f/x: .*f is a file") as err:
        with atomic_output_dir(tmp_path / "f" / "x"):
            pass  # pragma: no cover
    one_line(err)
    assert names(tmp_path) == ["f"]


def test_check_output_dir(tmp_path):
    check_output_dir(tmp_path / "new" / "x")  # nothing there: fine, nothing created
    assert names(tmp_path) == []
    (tmp_path / "x").mkdir()
    check_output_dir(tmp_path / "x")  # empty: fine
    (tmp_path / "x" / "old.txt").write_text("old")
    with pytest.raises(OutputError, match=r"already exists and is not empty; fix: .*--overwrite"):
        check_output_dir(tmp_path / "x")
    check_output_dir(tmp_path / "x", overwrite=True)
    with pytest.raises(OutputError, match="has no name"):
        check_output_dir(".")


def test_pid_alive():
    assert pid_alive(os.getpid())
    assert not pid_alive(dead_pid())


# ------------------------------------------------------------------------ real data


def test_require_or_skip(monkeypatch):
    from conftest import require_or_skip

    require_or_skip(True, "present")  # no effect
    monkeypatch.setenv("CUSTSEG_REQUIRE_ALL", "1")
    with pytest.raises(pytest.fail.Exception, match="missing data"):
        require_or_skip(False, "missing data")
    monkeypatch.delenv("CUSTSEG_REQUIRE_ALL")
    with pytest.raises(pytest.skip.Exception, match="missing data"):
        require_or_skip(False, "missing data")


def test_real_365_customers(real_365_path):
    frame = read_table(real_365_path)
    assert frame.shape == (3834, 4)
    assert frame.columns.tolist() == ["minutes_watched", "CLV", "region", "channel"]
    assert int(frame["minutes_watched"].isna().sum()) == 109
    assert frame.loc[0].tolist() == [3197.0, 205.42, 2, 4]


def test_cdnow_master(cdnow_path):
    frame = read_table(cdnow_path)
    assert frame.shape == (69659, 4)
    assert frame.columns.tolist() == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert frame.loc[0].tolist() == ["00001", 19970101, 1, 11.77]  # the id as written


# --------------------------------------------------- pyarrow reading and writing
_CELL = st.one_of(
    st.sampled_from(["", "0", "7", "-3", "007", "+4", "1.5", "-0.25", "1e5", "NaN", "nan", "inf",
                     "-Infinity", "True", "false", "TRUE", " 12", "3 ", "2024-01-31",
                     "2024-01-31 10:00:00", "12:30:00", "x", "Zürich", "a b", '"q,r"', '"s""t"',
                     "1,5", "9223372036854775808", "18446744073709551616", "1_000", "0x1f"]),
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)


@settings(max_examples=150, deadline=None, database=None)
@given(rows=st.integers(1, 6).flatmap(
    lambda n: st.lists(st.lists(_CELL, min_size=n, max_size=n), min_size=1, max_size=8)),
    sep=st.sampled_from([",", ";", "\t"]))
def test_arrow_reader_reads_what_pandas_reads_or_declines(rows, sep, tmp_path_factory):
    width = len(rows[0])
    if sep != ",":
        rows = [[c.replace(",", ".") for c in row] for row in rows]
    text = sep.join(f"c{i}" for i in range(width)) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    path = tmp_path_factory.mktemp("arrow") / "t.csv"
    path.write_text(text, encoding="utf-8")
    sample, complete = cio.decode_text(path, "utf-8", SAMPLE_BYTES)
    got = read_text_arrow(path, "utf-8", sep, sample)
    if got is None:
        return
    options = {"sep": sep, "encoding": "utf-8", **NA_OPTIONS}
    want = keep_text_as_written(pd.read_csv(path, low_memory=False, **options), path, options)
    pd.testing.assert_frame_equal(got, want)


def test_read_table_uses_pyarrow_for_a_plain_csv(tmp_path, monkeypatch):
    path = tmp_path / "c.csv"
    write_csv(small_frame(), path)
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("pandas read the file"))
    pd.testing.assert_frame_equal(read_table(path), small_frame())


def _mixed_frame(n: int = 3000) -> pd.DataFrame:
    """Columns of every type the Arrow reader types (and one it leaves to pandas)."""
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "id": [f"c{i}" for i in range(n)],
        "count": rng.integers(-5, 1000, n),
        "spend": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(50, n).round(2)),
        "member": rng.random(n) < 0.5,
        "city": rng.choice(["Zürich", "Oslo", "a, b", 'say "hi"'], n),
        "empty": np.full(n, np.nan),
    })


@pytest.mark.parametrize("n_jobs", [1, 2, -1])
def test_read_table_gives_the_same_table_whatever_n_jobs(tmp_path, n_jobs):
    path = tmp_path / "mixed.csv"
    write_csv(_mixed_frame(), path)
    one = read_table(path)
    assert one["count"].dtype == np.int64 and one["member"].dtype == bool  # the Arrow path read it
    pd.testing.assert_frame_equal(read_table(path, n_jobs=n_jobs), one)
    pd.testing.assert_frame_equal(one, pd.read_csv(path, keep_default_na=False, na_values=[""]))
    chunks = list(cio.iter_table(path, chunksize=1000, n_jobs=n_jobs))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), one)
    pd.testing.assert_frame_equal(cio.read_head(path, 10, n_jobs=n_jobs), one.head(10))


def test_read_table_starts_no_thread_with_one_job(tmp_path, monkeypatch):
    import threading

    path = tmp_path / "mixed.csv"
    write_csv(_mixed_frame(), path)
    monkeypatch.setattr(threading.Thread, "start", lambda self: pytest.fail("a thread was started"))
    read_table(path)
    read_table(path, n_jobs=1)


def test_read_table_refuses_a_bad_n_jobs(tmp_path):
    from custseg.errors import ParameterError

    path = write(tmp_path / "c.csv", "a,b\n1,2\n")
    with pytest.raises(ParameterError, match=r"The 'n_jobs' parameter must be None or a non-zero "):
        read_table(path, n_jobs=0)


@pytest.mark.parametrize("values", [
    [0.0, -0.0, 5.0, 1e-7, 1e-4, -1e-4, 0.0001234, 1e16, 1e15, 999999999.999999, 1e9, 0.1, 1 / 3,
     123456789.123456, -2.5, 1e22, 5e-324, 2.0**53, 1e-5, 9.999999e-05, 0.3, 0.1 + 0.2, 100.0,
     float("nan"), float("inf"), -float("inf"), 48.89, -1234.5],
])
def test_format_floats_is_repr(values):
    x = np.array(values, dtype=float)
    want = [None if v != v else str(v) for v in x.astype(str)]
    want = [None if np.isnan(v) else s for v, s in zip(x, x.astype(str), strict=True)]
    assert cio.format_floats(x).to_pylist() == want


@settings(max_examples=50, deadline=None, database=None)
@given(st.lists(st.one_of(st.floats(), st.floats(-1e9, 1e9).map(lambda v: round(v, 6)),
                          st.integers(-10**9, 10**9).map(lambda v: v / 100)), min_size=1, max_size=50))
def test_format_floats_matches_numpy_for_any_float(values):
    x = np.array(values, dtype=float)
    want = [None if np.isnan(v) else s for v, s in zip(x, x.astype(str), strict=True)]
    assert cio.format_floats(x).to_pylist() == want


# ------------------------------------------------------------------ folders of Parquet parts
def _write_parts(folder: Path, df: pd.DataFrame, sizes: list[int]) -> None:
    """``df`` as Parquet parts named as Spark names them, plus the files Spark leaves."""
    folder.mkdir()
    start = 0
    for i, size in enumerate(sizes):
        df.iloc[start:start + size].to_parquet(folder / f"part-{i:05d}-x.snappy.parquet",
                                               index=False)
        (folder / f".part-{i:05d}-x.snappy.parquet.crc").write_bytes(b"\0crc")
        start += size
    (folder / "_SUCCESS").write_text("")


def test_a_folder_of_parquet_parts_reads_as_one_table_in_part_order(tmp_path):
    df = pd.DataFrame({"id": [f"c{i}" for i in range(1_000)], "x": np.arange(1_000) * 0.5})
    sizes = [7, 300, 1, 250, 442]  # uneven, so that out-of-order reading would show
    _write_parts(tmp_path / "data.parquet", df, sizes)
    back = read_table(tmp_path / "data.parquet")
    pd.testing.assert_frame_equal(back, df)
    chunks = list(cio.iter_table(tmp_path / "data.parquet", chunksize=100))
    assert max(len(c) for c in chunks) <= 100
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), df)
    # the digest covers the parts (path and content), not Spark's marker and checksum files
    expected = hashlib.sha256()
    for i in range(len(sizes)):
        name = f"part-{i:05d}-x.snappy.parquet"
        expected.update(name.encode() + b"\0" + hashlib.sha256(
            (tmp_path / "data.parquet" / name).read_bytes()).hexdigest().encode() + b"\n")
    assert cio.source_sha256(tmp_path / "data.parquet") == expected.hexdigest()


def test_hive_partition_folders_become_columns(tmp_path):
    root = tmp_path / "customers"
    for region, xs in ((0, [1.0, 2.0]), (1, [3.0])):
        (root / f"region={region}").mkdir(parents=True)
        pd.DataFrame({"x": xs}).to_parquet(root / f"region={region}" / "part-0.parquet")
    back = read_table(root)
    assert back["x"].tolist() == [1.0, 2.0, 3.0]
    assert back["region"].astype(int).tolist() == [0, 0, 1]


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "is a folder with no data files"),
    (lambda d: (d / "notes.txt").write_text("not parquet"),
     "is not a folder of readable Parquet parts"),
])
def test_a_folder_without_parquet_parts_is_one_clear_error(tmp_path, make, message):
    folder = tmp_path / "folder"
    folder.mkdir()
    make(folder)
    with pytest.raises(InputError, match=message) as err:
        read_table(folder)
    assert "\n" not in str(err.value) and "fix:" in str(err.value)


def test_a_stored_index_in_parquet_parts_becomes_a_column_as_for_a_file(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, ids in enumerate((["a", "b"], ["c"])):
        pd.DataFrame({"x": [float(len(i * "x"))] * len(ids)},
                     index=pd.Index(ids, name="customer_id")).to_parquet(folder / f"p{i}.parquet")
    back = read_table(folder)
    assert back.columns.tolist() == ["customer_id", "x"]
    assert back["customer_id"].tolist() == ["a", "b", "c"]
    assert back.index.equals(pd.RangeIndex(3))


def test_a_truncated_parquet_part_is_one_clear_error_whole_or_in_chunks(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        pd.DataFrame({"x": np.arange(1_000.0)}).to_parquet(folder / f"part-{i}.parquet")
    whole = (folder / "part-1.parquet").read_bytes()
    (folder / "part-1.parquet").write_bytes(whole[:len(whole) // 2] + whole[-200:])
    for read in (read_table, lambda p: list(cio.iter_table(p, chunksize=100))):
        with pytest.raises(InputError, match="holds a Parquet part that cannot be read") as err:
            read(folder)
        assert "\n" not in str(err.value) and "fix:" in str(err.value)


def test_an_empty_parquet_part_gives_no_empty_chunk(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    df = pd.DataFrame({"x": np.arange(250.0)})
    df.to_parquet(folder / "part-0.parquet")
    df.iloc[:0].to_parquet(folder / "part-1.parquet")  # an empty part, as Spark writes them
    chunks = list(cio.iter_table(folder, chunksize=100))
    assert [len(c) for c in chunks] == [100, 100, 50]


def test_a_header_without_a_delimiter_is_one_column_whatever_the_rows_hold(tmp_path):
    # csv.Sniffer says '|' for these rows (found by a property test: a one-column file whose
    # values hold delimiters); a header with none of them has one field, so any delimiter
    # but the comma would make every row "ragged"
    import csv

    from custseg.io.text import sniff_delimiter

    sample = "t0\n\t\t',aq\n'q\n,q'|q\n|\";'q\n"
    assert csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter == "|"
    assert sniff_delimiter(sample, True) == ","
    df = pd.DataFrame({"t0": pd.Series(["\t\t',aq", "'q", ",q'|q", "|\";'q"], dtype="str")})
    path = tmp_path / "t.csv"
    cio.write_csv(df, path, neutralise=False)
    pd.testing.assert_frame_equal(cio.read_table(path), df)


def test_nested_json_objects_become_dotted_columns(tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text('{"id": "a", "metrics": {"CLV": 10, "visits": {"web": 2, "app": 1}}}\n'
                    '{"id": "b", "metrics": {"CLV": 20.5, "visits": {}}, "region": 1}\n',
                    encoding="utf-8")
    frame = cio.read_table(path)
    expected = pd.DataFrame({"id": ["a", "b"], "metrics.CLV": [10.0, 20.5],
                             "metrics.visits.web": [2.0, np.nan],
                             "metrics.visits.app": [1.0, np.nan], "region": [np.nan, 1.0]})
    # {} is an object with nothing in it: no value for "metrics.visits"
    expected.insert(3, "metrics.visits", [np.nan, None])
    pd.testing.assert_frame_equal(frame[sorted(frame.columns)], expected[sorted(expected.columns)],
                                  check_dtype=False)


@pytest.mark.parametrize("text, message", [
    ('{"id": "a", "tags": ["x", "y"]}\n',
     r"^line 1 of .*a\.jsonl: 'tags' holds a JSON array of 2 items, not one value; fix: "),
    ('{"id": "a"}\n{"id": "b", "m": {"x": 1}, "m.x": 2}\n',
     r"^line 2 of .*a\.jsonl: the column 'm\.x' comes twice once nested objects are named"),
])
def test_json_that_has_no_one_value_per_column_is_refused(tmp_path, text, message):
    path = tmp_path / "a.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        cio.read_table(path)


def test_run_and_init_take_sheet(tmp_path):
    from typer.testing import CliRunner

    from custseg.cli import app

    path = tmp_path / "book.xlsx"
    rng = np.random.default_rng(4)
    body = pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)],
                         "CLV": rng.gamma(2, 50, 60), "minutes_watched": rng.gamma(2, 500, 60)})
    with pd.ExcelWriter(path) as writer:
        body.head(5).to_excel(writer, sheet_name="sample", index=False)
        body.to_excel(writer, sheet_name="all", index=False)
    run = CliRunner().invoke(app, ["run", str(path), "--sheet", "all", "-o", str(tmp_path / "r"),
                                   "--quiet", "--k", "2"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["input"]["sheet"] == "all" and manifest["input"]["rows"] == 60
    bad = CliRunner().invoke(app, ["init", str(path), "--sheet", "7", "-o", str(tmp_path / "s.toml")])
    assert bad.exit_code == 2
    assert "has no sheet number 7 (it has 2: 'sample', 'all')" in bad.output
    assert not (tmp_path / "s.toml").exists()
