"""Tests of custseg.spec: parsing, errors, TOML round trips, inference, code_str."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from custseg.errors import SpecError
from custseg.infer import infer_spec
from custseg.spec import ColumnSpec, Spec, code_str, parse_spec

FULL = """
kind = "customers"
id = "customer_id"
cluster_on = ["CLV", "minutes_watched"]
describe = ["channel", "region"]
ignore = ["notes"]

[columns.CLV]
kind = "numeric"
role = "value"
transform = "log"
words = ["low spenders", "big spenders"]
description = "customer lifetime value, EUR"

[columns.minutes_watched]
kind = "numeric"
role = "engagement"
missing = "zero"

[columns.channel]
kind = "categorical"
labels = { 1 = "Google", 2 = "Facebook", 3 = "Instagram", 4 = "Email" }

[columns.region]
kind = "categorical"
missing = "mode"

[groups.channel]
social = ["Facebook", "Instagram"]
search = [1]

[names]
0 = "Champions"
2 = "Sleepers"

[clustering]
k_range = [2, 6]
n_init = 5
seed = 42

[recommendations]
min_lift = 1.5
"""

MINIMAL = '[columns.a]\nkind = "numeric"\n\n[columns.b]\nkind = "categorical"\n'


def assert_one_line_with_fix(err: Exception, *names: str) -> None:
    text = str(err)
    assert "\n" not in text
    assert "fix" in text
    for name in names:
        assert name in text


# ------------------------------------------------------------------ parsing
def test_parse_full_spec_columns():
    spec = parse_spec(FULL)
    assert list(spec.columns) == ["CLV", "minutes_watched", "channel", "region"]
    clv = spec.columns["CLV"]
    assert (clv.kind, clv.role, clv.missing, clv.transform) == ("numeric", "value", "median", "log")
    assert clv.words == ("low spenders", "big spenders")
    assert clv.description == "customer lifetime value, EUR"
    mw = spec.columns["minutes_watched"]
    assert (mw.kind, mw.role, mw.missing, mw.transform) == ("numeric", "engagement", "zero", "auto")
    ch = spec.columns["channel"]
    assert (ch.kind, ch.role, ch.missing) == ("categorical", "attribute", "unknown")
    assert ch.labels == {"1": "Google", "2": "Facebook", "3": "Instagram", "4": "Email"}
    assert spec.columns["region"].missing == "mode"


def test_parse_full_spec_top_level():
    spec = parse_spec(FULL)
    assert spec.kind == "customers"
    assert spec.id == "customer_id"
    assert spec.cluster_on == ["CLV", "minutes_watched"]
    assert spec.describe == ["channel", "region"]
    assert spec.ignore == ["notes"]
    assert spec.used == ["CLV", "minutes_watched", "channel", "region"]
    assert spec.numeric() == ["CLV", "minutes_watched"]
    assert spec.categorical() == ["channel", "region"]
    assert spec.with_role("value") == ["CLV"]
    assert spec.names == {0: "Champions", 2: "Sleepers"}
    assert spec.recommendations == {"min_lift": 1.5}
    c = spec.clustering
    assert (c.algorithm, c.k, c.k_range, c.n_init, c.seed) == ("kmeans", None, (2, 6), 5, 42)


def test_groups_by_label_and_by_code_resolve_to_codes():
    spec = parse_spec(FULL)
    assert spec.group_codes("channel") == {"social": ["2", "3"], "search": ["1"]}


@pytest.mark.parametrize(
    ("code", "label"),
    [(1, "Google"), (1.0, "Google"), ("1", "Google"), (" 2 ", "Facebook"), (9, "9")],
)
def test_label_of_code(code, label):
    assert parse_spec(FULL).columns["channel"].label(code) == label


@pytest.mark.parametrize(
    ("text", "code"),
    [("Google", "1"), ("4", "4"), (4.0, "4"), ("google", None), ("Tiktok", None)],
)
def test_code_of_label_or_code(text, code):
    assert parse_spec(FULL).columns["channel"].code_of(text) == code


def test_defaults_of_minimal_spec():
    spec = parse_spec(MINIMAL)
    # cluster_on defaults to every column, so describe is empty
    assert spec.cluster_on == ["a", "b"]
    assert spec.describe == []
    assert spec.id is None
    assert spec.columns["a"].missing == "median"
    assert spec.columns["b"].missing == "unknown"
    assert spec.clustering.k_range == (2, 10)


def test_describe_defaults_to_columns_not_clustered():
    spec = parse_spec('cluster_on = "a"\n' + MINIMAL)
    assert spec.cluster_on == ["a"]
    assert spec.describe == ["b"]


# ---------------------------------------------------------- bad specs
BAD_SPECS = [
    # (TOML text, regex the message must match, words it must name)
    pytest.param('clsuter_on = ["a"]\n' + MINIMAL,
                 r"unknown key 'clsuter_on' in the top level; did you mean 'cluster_on'\?",
                 ["clsuter_on"], id="top-level-typo"),
    pytest.param('[columns.a]\nkind = "numeric"\nrloe = "value"\n',
                 r"unknown key 'rloe' in \[columns\.a\]; did you mean 'role'\?",
                 ["rloe", "columns.a"], id="column-key-typo"),
    pytest.param(MINIMAL + "[clustering]\nn_inti = 3\n",
                 r"unknown key 'n_inti' in \[clustering\]; did you mean 'n_init'\?",
                 ["n_inti"], id="clustering-key-typo"),
    pytest.param('kind = "customer"\n' + MINIMAL,
                 r"kind must be one of customers, transactions, got 'customer'; "
                 r"did you mean 'customers'\?",
                 ["kind"], id="top-kind"),
    pytest.param('[columns.a]\nkind = "numerc"\n',
                 r"\[columns\.a\] kind must be one of numeric, categorical, date, boolean, text, "
                 r"got 'numerc'; did you mean 'numeric'\?",
                 ["columns.a"], id="bad-kind"),
    pytest.param('[columns.a]\nrole = "value"\n',
                 r"\[columns\.a\] kind must be one of numeric, categorical, date, boolean, text, got None",
                 ["columns.a"], id="no-kind"),
    pytest.param('[columns.a]\nkind = "numeric"\nrole = "valeu"\n',
                 r"\[columns\.a\] role must be one of value, engagement, attribute, got 'valeu'; "
                 r"did you mean 'value'\?",
                 ["columns.a"], id="bad-role"),
    pytest.param('[columns.a]\nkind = "numeric"\nmissing = "unknown"\n',
                 r"\[columns\.a\] missing must be one of zero, median, mean, never, drop, error, "
                 r"got 'unknown'",
                 ["columns.a"], id="numeric-missing"),
    pytest.param('[columns.b]\nkind = "categorical"\nmissing = "median"\n',
                 r"\[columns\.b\] missing must be one of unknown, mode, drop, error, got 'median'",
                 ["columns.b"], id="categorical-missing"),
    pytest.param('[columns.a]\nkind = "numeric"\ntransform = "log2"\n',
                 r"\[columns\.a\] transform must be one of auto, log, none, got 'log2'",
                 ["columns.a"], id="bad-transform"),
    pytest.param('cluster_on = ["age"]\n[columns.agee]\nkind = "numeric"\n',
                 r"cluster_on names 'age', which has no \[columns\.age\] table; "
                 r"did you mean 'agee'\?",
                 ["cluster_on", "age"], id="cluster-on-missing-column"),
    pytest.param('describe = ["zz"]\n' + MINIMAL,
                 r"describe names 'zz', which has no \[columns\.zz\] table",
                 ["describe", "zz"], id="describe-missing-column"),
    pytest.param('cluster_on = []\n' + MINIMAL, r"cluster_on is empty", ["cluster_on"],
                 id="cluster-on-empty"),
    pytest.param('cluster_on = 3\n' + MINIMAL, r"cluster_on must be a list of column names",
                 ["cluster_on"], id="cluster-on-not-list"),
    pytest.param('[columns.ch]\nkind = "categorical"\nlabels = { 1 = "Google", 2 = "Facebook" }\n'
                 '[groups.ch]\nsocial = ["Facebok"]\n',
                 r"group 'social' of 'ch' lists 'Facebok', which is neither a code nor a label; "
                 r"did you mean 'Facebook'\?",
                 ["social", "ch", "Facebok", "Google"], id="group-member-unknown"),
    pytest.param('[columns.ch]\nkind = "categorical"\nlabels = { 1 = "Google" }\n'
                 '[groups.ch]\nsocial = []\n',
                 r"group 'social' of 'ch' must be a non-empty list", ["social", "ch"],
                 id="group-empty"),
    pytest.param(MINIMAL + '[groups.bb]\nx = ["1"]\n',
                 r"\[groups\.bb\] names an unknown column; did you mean 'b'\?", ["groups.bb"],
                 id="group-unknown-column"),
    pytest.param(MINIMAL + '[groups.a]\nx = ["1"]\n', r"\[groups\.a\] needs a categorical column",
                 ["groups.a"], id="group-numeric-column"),
    pytest.param('groups = 3\n' + MINIMAL, r"groups", ["groups"], id="groups-not-table"),
    pytest.param('[columns.a]\nkind = "numeric"\nlabels = { 1 = "x" }\n',
                 r"\[columns\.a\] has labels but kind is numeric", ["columns.a"],
                 id="labels-on-numeric"),
    pytest.param('[columns.b]\nkind = "categorical"\nlabels = { 1 = "x", 2 = "x" }\n',
                 r"\[columns\.b\] labels repeat a label", ["columns.b"], id="labels-repeat"),
    pytest.param('[columns.b]\nkind = "categorical"\nlabels = ["x"]\n',
                 r"\[columns\.b\] labels must be a table", ["columns.b"], id="labels-not-table"),
    pytest.param('[columns.a]\nkind = "numeric"\nwords = ["low"]\n',
                 r"\[columns\.a\] words must be two strings", ["columns.a"], id="words-one"),
    pytest.param('columns = { a = 3 }\n', r"\[columns\.a\] must be a table", ["columns.a"],
                 id="column-not-table"),
    pytest.param('kind = "customers"\n', r"no \[columns\.NAME\] tables", ["columns"],
                 id="no-columns"),
    pytest.param('id = "a"\n' + MINIMAL, r"id column 'a' must not also be under \[columns\]",
                 ["'a'"], id="id-also-column"),
    pytest.param('id = 3\n' + MINIMAL, r"id must be a column name, got 3", ["id"],
                 id="id-not-string"),
    pytest.param(MINIMAL + "[names]\nfirst = \"x\"\n",
                 r"\[names\] keys must be segment ids, got 'first'", ["names", "first"],
                 id="names-key"),
    pytest.param('names = 3\n' + MINIMAL, r"names", ["names"], id="names-not-table"),
    pytest.param('clustering = 3\n' + MINIMAL, r"clustering", ["clustering"],
                 id="clustering-not-table"),
    pytest.param(MINIMAL + "[clustering]\nk_range = [1, 5]\n",
                 r"\[clustering\] k_range must be \[low, high\] with 2 <= low <= high, "
                 r"got \[1, 5\]",
                 ["k_range"], id="k-range-low"),
    pytest.param(MINIMAL + "[clustering]\nk_range = [6, 3]\n", r"k_range must be \[low, high\]",
                 ["k_range"], id="k-range-reversed"),
    pytest.param(MINIMAL + "[clustering]\nk = 0\n",
                 r"\[clustering\] k must be an integer >= 1, got 0", ["k"], id="k-zero"),
    pytest.param(MINIMAL + "[clustering]\nk = true\n",
                 r"\[clustering\] k must be an integer >= 1, got True", ["k"], id="k-bool"),
    pytest.param(MINIMAL + "[clustering]\nn_init = 0\n", r"n_init must be an integer >= 1",
                 ["n_init"], id="n-init-zero"),
    pytest.param(MINIMAL + "[clustering]\nseed = -1\n", r"seed must be an integer >= 0",
                 ["seed"], id="seed-negative"),
    pytest.param('recommendations = 3\n' + MINIMAL, r"\[recommendations\] must be a table",
                 ["recommendations"], id="recommendations-not-table"),
    pytest.param('[columns.a\nkind = "numeric"\n', r"spec\.toml is not valid TOML",
                 ["spec.toml"], id="not-toml"),
]


@pytest.mark.parametrize(("text", "match", "names"), BAD_SPECS)
def test_bad_spec_raises_one_line_spec_error_with_fix(text, match, names):
    with pytest.raises(SpecError, match=match) as info:
        parse_spec(text)
    assert_one_line_with_fix(info.value, *names)
    assert info.value.code == "spec"


def test_error_names_the_source_file():
    with pytest.raises(SpecError, match=r"^shop/spec\.toml: unknown key 'colour'"):
        parse_spec('colour = "red"\n' + MINIMAL, source="shop/spec.toml")


def test_with_cluster_on_moves_the_rest_to_describe():
    spec = parse_spec(FULL).with_cluster_on(["channel"])
    assert spec.cluster_on == ["channel"]
    assert spec.describe == ["CLV", "minutes_watched", "region"]
    assert spec.id == "customer_id"


def test_with_cluster_on_unknown_column_suggests():
    with pytest.raises(SpecError, match=r"--cluster-on names column 'chanel'.*"
                                        r"did you mean 'channel'\?") as info:
        parse_spec(FULL).with_cluster_on(["chanel"])
    assert_one_line_with_fix(info.value, "chanel")


# ------------------------------------------------------------ round trips
def test_to_toml_round_trip_of_full_spec():
    spec = parse_spec(FULL)
    again = parse_spec(spec.to_toml())
    assert again.to_dict() == spec.to_dict()
    assert again.group_codes("channel") == spec.group_codes("channel")


def test_to_dict_from_dict_round_trip():
    spec = parse_spec(FULL)
    assert Spec.from_dict(spec.to_dict()).to_dict() == spec.to_dict()


def test_to_toml_round_trip_with_awkward_names_and_comments():
    spec = Spec(
        columns={
            'spend "EUR" / month': ColumnSpec('spend "EUR" / month', "numeric", role="value",
                                             description='line one\nline "two"'),
            "plan.type": ColumnSpec("plan.type", "categorical",
                                    labels={"1": "Basic", "2": "Prämie \u00e9"}),
        },
        id="customer id",
        cluster_on=['spend "EUR" / month'],
        describe=["plan.type"],
        names={-1: "outliers", 3: "x"},
    )
    text = spec.to_toml(comments={"cluster_on": "why\nthese", "columns.plan.type": "codes"},
                        header="drafted by a test")
    assert text.startswith("# drafted by a test\n")
    assert "# why\n# these\n" in text
    assert parse_spec(text).to_dict() == spec.to_dict()


def test_to_toml_keeps_clustering_k():
    spec = parse_spec(MINIMAL + "[clustering]\nk = 4\nalgorithm = \"kmeans\"\n")
    again = parse_spec(spec.to_toml())
    assert again.clustering.k == 4
    assert again.to_dict() == spec.to_dict()


# ------------------------------------------------------------- inference
# Fixture checks: CLV has one outlier in 8 rows, a near two-point distribution whose biased
# skewness is about (1 - 2p) / sqrt(p (1 - p)) with p = 1/8, i.e. 0.75 / 0.331 = 2.27 > 2.
# "balance" has the same shape but one negative value, so no log transform.
CLV = [10.5, 12.0, 11.25, 9.75, 13.5, 10.0, 12.75, 950.0]
BALANCE = [-5.5, 1.5, 2.5, 1.25, 2.75, 1.75, 2.25, 900.5]


@pytest.fixture
def raw_customers() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(1, 9)],
        "plan": [1, 2, 3, 1, 2, 3, 1, 2],
        "CLV": CLV,
        "minutes_watched": [30.5, np.nan, 12.25, 45.0, np.nan, 60.75, 5.5, 20.0],
        "satisfaction": [3.5, 4.1, 2.2, 4.8, 3.9, 1.5, 4.4, 3.0],
        "balance": BALANCE,
        "country": ["NL"] * 8,
        "region": ["north", "south", "north", "east", "west", "south", "east", "north"],
        "empty": [None] * 8,
    })


def test_fixture_skewness_independently():
    assert scipy.stats.skew(CLV, bias=True) > 2
    assert scipy.stats.skew(BALANCE, bias=True) > 2
    assert scipy.stats.skew([3.5, 4.1, 2.2, 4.8, 3.9, 1.5, 4.4, 3.0], bias=True) < 2


def test_infer_spec_structure(raw_customers):
    spec, comments, notes = infer_spec(raw_customers)
    assert spec.id == "customer_id"
    assert list(spec.columns) == ["plan", "CLV", "minutes_watched", "satisfaction", "balance",
                                  "region"]
    assert spec.cluster_on == ["CLV", "minutes_watched", "satisfaction", "balance"]
    assert spec.describe == ["plan", "region"]
    assert spec.ignore == ["country", "empty"]
    assert len(notes) == raw_customers.shape[1]
    assert "columns.CLV" in comments and "cluster_on" in comments


@pytest.mark.parametrize(
    ("name", "kind", "role", "missing", "transform"),
    [
        ("plan", "categorical", "attribute", "unknown", "auto"),  # 3 integer codes
        ("CLV", "numeric", "value", "median", "log"),  # name says value; heavy tail
        ("minutes_watched", "numeric", "engagement", "zero", "none"),
        ("satisfaction", "numeric", "attribute", "median", "none"),
        ("balance", "numeric", "attribute", "median", "none"),  # heavy tail but negative
        ("region", "categorical", "attribute", "unknown", "auto"),
    ],
)
def test_infer_spec_columns(raw_customers, name, kind, role, missing, transform):
    col = infer_spec(raw_customers)[0].columns[name]
    assert (col.kind, col.role, col.missing, col.transform) == (kind, role, missing, transform)


def test_infer_spec_notes_explain_ignored_columns(raw_customers):
    notes = infer_spec(raw_customers)[2]
    assert "country: constant ('NL'), ignored" in notes
    assert "empty: entirely empty, ignored" in notes
    assert "customer_id: unique for every row, used as the customer id" in notes


def test_infer_spec_numeric_id_needs_an_id_name():
    df = pd.DataFrame({"customer_id": [101, 102, 103, 104], "spend": [1.5, 2.5, 3.5, 9.25]})
    spec = infer_spec(df)[0]
    assert spec.id == "customer_id"
    assert spec.cluster_on == ["spend"]


def test_infer_spec_round_trips_through_toml(raw_customers):
    spec, comments, _ = infer_spec(raw_customers)
    again = parse_spec(spec.to_toml(comments, header="inferred"))
    assert again.to_dict() == spec.to_dict()


def test_infer_spec_without_usable_columns():
    df = pd.DataFrame({"customer_id": ["a", "b", "c"], "country": ["NL", "NL", "NL"]})
    with pytest.raises(SpecError, match="no usable column found") as info:
        infer_spec(df)
    assert_one_line_with_fix(info.value)


# -------------------------------------------------------------- code_str
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        (" 1 ", "1"),
        (2.5, "2.5"),
        (True, "True"),
        (np.int64(7), "7"),
        (np.float64(-3.0), "-3"),
        (np.bool_(False), "False"),
        ("Google ", "Google"),
    ],
)
def test_code_str(value, text):
    assert code_str(value) == text
