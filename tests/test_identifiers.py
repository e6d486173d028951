"""Identifiers stay as written: ids and codes with leading zeros survive every reader and output.

Account numbers, CDNOW's customer ids (``00001``) and zip codes (``01234``) lose their
leading zeros when a reader types them as integers; the segments can then no longer be
joined back to the CRM. The expected values are the file's own text.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from custseg import io
from custseg.cli import app
from custseg.io.csv_reader import keep_text_as_written
from custseg.io.sources import NA_OPTIONS


def _invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def _lines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{i:05d},{int(rng.integers(0, 3)):05d},{rng.gamma(2, 50):.2f},{rng.gamma(2, 500):.1f}"
            for i in range(n)]


@pytest.fixture()
def zero_file(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,zip,CLV,minutes_watched\n" + "\n".join(_lines(300)) + "\n")
    return path


def _as_written(path) -> tuple[list[str], list[str]]:
    rows = [line.split(",") for line in path.read_text(encoding="latin-1").splitlines()[1:]]
    return [r[0] for r in rows], [r[1] for r in rows]


def test_the_arrow_path_keeps_leading_zeros(zero_file):
    frame = io.read_table(zero_file)
    ids, zips = _as_written(zero_file)
    assert frame["customer_id"].tolist() == ids
    assert frame["zip"].tolist() == zips
    assert frame["CLV"].dtype == np.float64  # numbers without leading zeros are numbers


def test_the_pandas_path_keeps_leading_zeros(tmp_path):
    # a Latin-1 file is read by pandas, not pyarrow
    path = tmp_path / "latin.csv"
    text = "customer_id,zip,CLV,city\n" + "\n".join(
        line.rsplit(",", 1)[0] + ",Düsseldorf" for line in _lines(50)) + "\n"
    path.write_bytes(text.encode("latin-1"))
    frame = io.read_table(path)
    ids, zips = _as_written(path)
    assert frame["customer_id"].tolist() == ids
    assert frame["zip"].tolist() == zips
    assert frame["city"].iloc[0] == "Düsseldorf"


def test_chunks_keep_leading_zeros(zero_file):
    ids, zips = _as_written(zero_file)
    chunks = list(io.iter_table(zero_file, chunksize=70))
    got = [str(v) for c in chunks for v in c["customer_id"]]
    assert got == ids
    # a chunk whose zips all lack a leading zero may type them as numbers; their text is equal
    assert [str(v) for c in chunks for v in c["zip"]] == [z if z.startswith("0") else str(int(z))
                                                        for z in zips]


def test_a_file_without_leading_zeros_is_typed_as_before(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("id,n,x\n10,1,0.5\n20,0,-0.25\n30,7,0\n")
    options = {"sep": ",", "encoding": "utf-8", **NA_OPTIONS}
    frame = keep_text_as_written(pd.read_csv(path, **options), path, options)
    assert frame["id"].tolist() == [10, 20, 30] and frame["id"].dtype == np.int64
    assert frame["x"].tolist() == [0.5, -0.25, 0.0]


def test_run_assign_and_export_return_ids_as_written(zero_file, tmp_path):
    ids, zips = _as_written(zero_file)
    run = tmp_path / "run"
    _invoke("run", zero_file, "-o", run, "--quiet", "--jobs", "1")
    assert (run / "segments.csv").read_text().splitlines()[1].startswith("00000,")
    segments = pd.read_csv(run / "segments.csv", dtype=str)
    assert segments["customer_id"].tolist() == ids
    assert pd.read_parquet(run / "segments.parquet")["customer_id"].tolist() == ids
    assert 'kind = "categorical"' in (run / "spec.toml").read_text().split("[columns.zip]")[1]
    analysis = (run / "analysis.json").read_text()
    levels = set(re.findall(r'"(0*[0-9])"', analysis))
    assert {"00000", "00001", "00002"} <= levels and not {"0", "1", "2"} & levels

    out = tmp_path / "assigned.csv"
    _invoke("assign", run / "model.json", zero_file, "-o", out, "--jobs", "1")
    assert pd.read_csv(out, dtype=str)["customer_id"].tolist() == ids

    export = tmp_path / "export.csv"
    _invoke("export", run, "--segment", "0", "-o", export)
    exported = pd.read_csv(export, dtype=str)["customer_id"]
    assert len(exported) and set(exported) <= set(ids)
    assert all(len(v) == 5 for v in exported)


@pytest.mark.parametrize(("name", "data"), [
    ("aligned.txt", b"a   id     x\n1   00012  0.5\n2   00345  1.5\n"),  # whitespace
    ("utf16.csv", "a,id,x\n1,00012,0.5\n2,00345,1.5\n".encode("utf-16")),
])
def test_leading_zeros_in_whitespace_aligned_and_utf16_files(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    frame = io.read_table(path)
    assert frame["id"].tolist() == ["00012", "00345"]
    assert frame["a"].tolist() == [1, 2] and frame["x"].tolist() == [0.5, 1.5]
