"""analysis.json against its contract, ``src/custseg/schemas/analysis.schema.json``.

Real outputs must match the schema: here, a run directory of ``custseg demo`` and
of ``--compare-algorithms`` (a part the command adds), and, through
:func:`custseg.pipeline.segment` (what ``custseg run`` writes, without the cost of
the report), the options, algorithms and data that add, drop or empty parts
(--aggregate-only, hdbscan's noise segment, gmm's BIC, k-prototypes' gamma, a single
k, --reference, undefined tests, an inferred spec without value column or groups,
the tests' sample above questions.TESTS_MAX customers); and the report tests' fixture. A
table of broken analyses shows that the schema catches a missing key, a wrong
type, an unknown key and an out-of-range value.

Runs that other test files make anyway are checked there, at no extra cost: the
order log's RFM part in ``test_cli_transactions.py``, the real 365 file (inferred
spec, and the one-hot run with its segment-mirrors-column warning) in
``test_real_365.py``, and the Spark engine in ``test_spark.py``.
"""

from __future__ import annotations

import copy
import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from custseg import load_model, parse_spec
from custseg.cli import app
from custseg.io import write_json
from custseg.pipeline import RunOptions, segment
from report_fixture import build_analysis

ROOT = Path(__file__).resolve().parents[1]
ROWS = 400  # the smallest demo that still has every part (groups, significant levels)


def load_schema() -> dict:
    """The schema as the installed package ships it."""
    text = resources.files("custseg.schemas").joinpath("analysis.schema.json").read_text("utf-8")
    return json.loads(text)


VALIDATOR = Draft202012Validator(load_schema())


def schema_errors(analysis: dict) -> list[str]:
    """Every violation as ``path: message``, in path order; for a failed ``anyOf`` (such as an
    object or null), the deepest reason, which is why the object did not match."""
    found = []
    for error in VALIDATOR.iter_errors(analysis):
        while error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        found.append(f"{'/'.join(str(p) for p in error.absolute_path) or '(top level)'}: "
                     f"{error.message}")
    return sorted(found)


def assert_matches_schema(analysis: dict) -> None:
    problems = schema_errors(analysis)
    assert not problems, ("analysis.json does not match its schema:\n"
                          + "\n".join(p[:300] for p in problems[:20]))


def invoke(*args) -> None:
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def read_analysis(run_dir: Path) -> dict:
    return json.loads((run_dir / "analysis.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """``custseg demo``: its data.csv and spec.toml feed the other runs, and it is their reference."""
    out = tmp_path_factory.mktemp("demo") / "run"
    invoke("demo", "--rows", ROWS, "--out", out, "--quiet")
    return out


def run_on_demo(demo_dir: Path, tmp_path: Path, *options) -> dict:
    """``custseg run`` on the demo's data and spec."""
    out = tmp_path / "run"
    invoke("run", demo_dir / "data.csv", "--spec", demo_dir / "spec.toml", "--out", out, "--quiet",
           *options)
    return read_analysis(out)


def segment_and_write(data: pd.DataFrame, spec, tmp_path: Path, **options) -> dict:
    """The analysis.json ``custseg run`` would write for this data, spec and options."""
    result = segment(data, spec, RunOptions(**options))
    write_json(result.analysis, tmp_path / "analysis.json", indent=None)  # as rundir writes it
    return read_analysis(tmp_path)


def segment_demo(demo_dir: Path, tmp_path: Path, **options) -> dict:
    spec = parse_spec((demo_dir / "spec.toml").read_text(encoding="utf-8"))
    return segment_and_write(pd.read_csv(demo_dir / "data.csv"), spec, tmp_path, **options)


# ------------------------------------------------------------------ the schema itself


def test_the_schema_is_a_valid_draft_2020_12_schema_beside_the_model_schema():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "custseg/analysis.schema.json"
    model = json.loads(resources.files("custseg.schemas").joinpath("model.schema.json")
                       .read_text("utf-8"))
    assert schema["$schema"] == model["$schema"]


def test_the_schema_ships_with_the_package():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["custseg"]
    assert "schemas/*.json" in package_data
    schemas = ROOT / "src" / "custseg" / "schemas"
    assert (schemas / "analysis.schema.json").is_file() and (schemas / "__init__.py").is_file()


# ------------------------------------------------------------------ real outputs


def test_the_demo_run_matches(demo_dir):
    analysis = read_analysis(demo_dir)
    assert analysis["synthetic"] is True and analysis["charts"]["scatter"]["points"]
    assert analysis["question1"] and analysis["question2"] and analysis["recommendations"]["cells"]
    assert "rfm" not in analysis and "algorithms" not in analysis
    assert_matches_schema(analysis)


def test_a_compare_algorithms_run_matches_with_its_table(demo_dir, tmp_path):
    analysis = run_on_demo(demo_dir, tmp_path, "--compare-algorithms", "kmeans,gmm,ward",
                           "--k-range", "2-5")
    assert analysis["algorithms"]["algorithms"] == ["kmeans", "gmm", "ward"]
    assert_matches_schema(analysis)


@pytest.mark.parametrize("options, check", [
    ({"aggregate_only": True}, lambda a: a["aggregate_only"] and a["charts"]["scatter"] is None
     and a["charts"]["pca"]["points"] is None),
    ({"algorithm": "hdbscan"}, lambda a: a["segments"][-1]["name"] == "Unassigned (noise)"),
    ({"algorithm": "gmm"}, lambda a: "bic" in a["selection"]["picks"]
     and all("bic" in r for r in a["selection"]["rows"])),
    ({"algorithm": "kprototypes", "cluster_on": "all"},
     lambda a: all("gamma" in r for r in a["selection"]["rows"])),
    ({"k_range": (3, 3)}, lambda a: set(a["selection"]["picks"].values()) == {None}
     and "gap" not in a["selection"]["rows"][0]),
], ids=["aggregate-only", "hdbscan-noise-segment", "gmm-bic", "kprototypes-gamma", "single-k"])
def test_runs_whose_options_add_or_drop_parts_match(demo_dir, tmp_path, options, check):
    analysis = segment_demo(demo_dir, tmp_path, **options)
    assert check(analysis), "the run did not produce the part this case is about"
    assert_matches_schema(analysis)


def test_a_reference_run_matches(demo_dir, tmp_path):
    analysis = segment_demo(demo_dir, tmp_path, reference=load_model(demo_dir))
    before = read_analysis(demo_dir)
    assert [s["name"] for s in analysis["segments"]] == [s["name"] for s in before["segments"]]
    assert_matches_schema(analysis)


def test_a_run_with_undefined_tests_matches_with_its_nulls(demo_dir, tmp_path):
    """A constant attribute and a one-customer level: tests, measures and intervals are null."""
    data = pd.read_csv(demo_dir / "data.csv")
    data["plan"] = "basic"
    data.loc[0, "channel"] = 9
    text = ((demo_dir / "spec.toml").read_text(encoding="utf-8")
            .replace('describe = ["region", "channel"]', 'describe = ["region", "channel", "plan"]')
            .replace('8 = "Other" }', '8 = "Other", 9 = "Podcast" }')
            + '\n[columns.plan]\nkind = "categorical"\nrole = "attribute"\nmissing = "unknown"\n')
    analysis = segment_and_write(data, parse_spec(text), tmp_path, k_range=(2, 4))
    plan = [q for q in analysis["question1"] if q["attribute"] == "plan"]
    assert plan and all(q["kruskal"] is None and q["welch"] is None for q in plan)
    podcast = [lv for q in analysis["question1"] for lv in q["levels"] if lv["code"] == "9"]
    assert podcast and all(lv["ci_method"] is None and lv["vs_rest"] is None for lv in podcast)
    assert any(p["value"] is None and "note" in p for p in analysis["associations"])
    assert any(q["chi2"] is None for q in analysis["question2"])
    assert_matches_schema(analysis)


def test_an_inferred_spec_without_value_column_or_groups_matches(tmp_path):
    rows = 150
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"a": np.r_[rng.normal(0, 1, rows // 2), rng.normal(5, 1, rows - rows // 2)],
                         "b": rng.exponential(3, rows), "c": rng.choice(["x", "y", "z"], rows)})
    analysis = segment_and_write(data, None, tmp_path, k_range=(2, 4))  # spec inferred
    assert analysis["question1"] == [] and analysis["question2"] == []
    assert all(s["value_share"] == {} for s in analysis["segments"])
    assert_matches_schema(analysis)


def test_a_run_above_the_tests_limit_matches_with_its_sample(demo_dir, tmp_path, monkeypatch):
    from custseg import questions

    monkeypatch.setattr(questions, "TESTS_MAX", ROWS // 2)
    analysis = segment_demo(demo_dir, tmp_path, k_range=(2, 4))
    assert analysis["tests_sample"] == {"rows": ROWS // 2, "of": ROWS}
    assert_matches_schema(analysis)


@pytest.mark.parametrize("hostile", [False, True])
@pytest.mark.parametrize("aggregate_only", [False, True])
def test_the_report_tests_fixture_matches(hostile, aggregate_only):
    assert_matches_schema(build_analysis(hostile=hostile, aggregate_only=aggregate_only))


# ------------------------------------------------------------------ the schema catches


def _drop(key):
    def change(a):
        del a[key]
    return change


def _set(path, value):
    def change(a):
        *head, last = path
        node = a
        for p in head:
            node = node[p]
        node[last] = value
    return change


def _swap_measure(a):
    pair = next(p for p in a["associations"] if p["kinds"] == "numeric-numeric")
    pair["measure"] = "eta"


@pytest.mark.parametrize("change, where, message", [
    (_drop("tests_sample"), "(top level)", "'tests_sample' is a required property"),
    (_set(["overview", "k"], "4"), "overview/k", "'4' is not of type 'integer'"),
    (_set(["segments", 0, "size"], 12.5), "segments/0/size", "12.5 is not of type 'integer'"),
    (_set(["colour"], "red"), "(top level)", "Additional properties are not allowed ('colour'"),
    (_set(["segments", 0, "colour"], "red"), "segments/0",
     "Additional properties are not allowed ('colour'"),
    (_set(["segments", 0, "share"], 1.5), "segments/0/share", "1.5 is greater than the maximum"),
    (_set(["question1", 0, "kruskal", "p_value"], None), "question1/0/kruskal/p_value",
     "None is not of type 'number'"),
    (_set(["selection", "rows", 0, "chosen"], None), "selection/rows/0/chosen",
     "None is not of type 'boolean'"),
    (_swap_measure, "associations/0/measure", "'spearman_rho' was expected"),
    (_set(["recommendations", "segments", 0, "segment"], None), "recommendations/segments/0/segment",
     "None is not of type 'integer'"),
    (_set(["charts", "pca", "points", 0], [0.1, 0.2]), "charts/pca/points/0",
     "[0.1, 0.2] is too short"),
    (_set(["warnings", 0, "code"], "Weak Structure"), "warnings/0/code", "does not match"),
], ids=["missing-required-key", "string-for-integer", "float-for-count", "unknown-top-level-key",
        "unknown-segment-key", "share-above-1", "null-p-value", "null-for-boolean",
        "measure-of-another-kind", "segment-recommendation-without-segment", "point-without-segment",
        "warning-code-not-kebab-case"])
def test_the_schema_catches_a_broken_analysis(change, where, message):
    analysis = copy.deepcopy(build_analysis())
    assert_matches_schema(analysis)
    change(analysis)
    problems = schema_errors(analysis)
    assert any(p.startswith(f"{where}: ") and message in p for p in problems), problems
