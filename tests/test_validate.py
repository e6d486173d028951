"""Tests of custseg.validate: every check, all errors at once, coercion of types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from custseg.errors import ValidationError
from custseg.spec import parse_spec
from custseg.validate import MAX_CELL_CHARS, check, coerce_codes, coerce_numeric, validate

SPEC = """
id = "customer_id"

[columns.CLV]
kind = "numeric"
role = "value"

[columns.minutes]
kind = "numeric"
role = "engagement"
missing = "zero"

[columns.channel]
kind = "categorical"
labels = { 1 = "Google", 2 = "Facebook" }

[columns.region]
kind = "categorical"
"""


def spec():
    return parse_spec(SPEC)


def frame() -> pd.DataFrame:
    """Six clean customers (rows 1..6)."""
    return pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "CLV": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        "minutes": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
        "channel": [1, 2, 1, 2, 1, 2],
        "region": ["n", "s", "n", "e", "w", "s"],
    })


def assert_one_line_with_fix(message: str, *names: str) -> None:
    assert "\n" not in message
    assert "fix" in message
    for name in names:
        assert name in message


def test_clean_frame_has_no_problems():
    result = validate(frame(), spec())
    assert result.problems == []
    assert list(result.frame.columns) == ["customer_id", "CLV", "minutes", "channel", "region"]
    assert result.frame["CLV"].dtype == np.float64
    assert result.frame["channel"].tolist() == ["1", "2", "1", "2", "1", "2"]
    assert not result.drop.any()


# ------------------------------------------- problems returned by validate
def _set(column, values):
    def change(df, sp):
        df[column] = values
        return df, sp
    return change


def _policy(column, missing, values):
    def change(df, sp):
        sp.columns[column].missing = missing
        df[column] = values
        return df, sp
    return change


def _no_id(df, sp):
    sp.id = None
    df = df.drop(columns="customer_id")
    df.loc[3] = df.loc[0]  # row 4 repeats row 1
    df.loc[5] = df.loc[1]  # row 6 repeats row 2
    return df, sp


def _unexpected(df, sp):
    df["notes"] = ["x"] * 6
    return df, sp


def _constant(column, values, *, describe_only=False):
    def change(df, sp):
        df[column] = values
        if describe_only:
            sp.cluster_on = [c for c in sp.cluster_on if c != column]
            sp.describe = [column]
        return df, sp
    return change


HUGE = "x" * (MAX_CELL_CHARS + 1)

# (change, code, severity, column, rows, count, words the message must contain)
CASES = [
    pytest.param(_unexpected, "unexpected-column", "error", "notes", [], 0,
                 ["'notes'", "[columns.notes]", "ignore"], id="unexpected-column"),
    pytest.param(_set("customer_id", ["a", "b", "a", "d", "a", "f"]), "duplicate-id", "error",
                 "customer_id", [1, 3, 5], 3, ["3 rows sharing an id", "row 1: 'a'", "row 5: 'a'"],
                 id="duplicate-id"),
    pytest.param(_set("customer_id", ["a", "a", "a", "a", "e", "f"]), "duplicate-id", "error",
                 "customer_id", [1, 2, 3], 4, ["4 rows sharing an id"], id="duplicate-id-4"),
    # the same customer typed twice, once with a space? the ids stay as written, so they
    # are separate customers, and the warning says so
    pytest.param(_set("customer_id", ["a", "b", "a ", " b", "e", "f"]), "id-spaces", "warning",
                 "customer_id", [1, 2, 3], 4,
                 ["4 rows whose ids are the same but for spaces", "row 3: 'a '", "and 1 more"],
                 id="id-spaces"),
    pytest.param(_set("customer_id", ["a", None, "c", None, "e", "f"]), "missing-id", "error",
                 "customer_id", [2, 4], 2, ["empty in 2 rows", "rows 2, 4"], id="missing-id"),
    pytest.param(_set("CLV", ["10", "1,234", "30", "40", "50", "60"]), "not-numeric", "error",
                 "CLV", [2], 1, ["thousands separators", "row 2: '1,234'", "1234.5"],
                 id="thousands"),
    pytest.param(_set("CLV", ["10", "20", "12,5", "40", "50", "60"]), "not-numeric", "error",
                 "CLV", [3], 1, ["decimal comma", "row 3: '12,5'", "12.5, not 12,5"],
                 id="decimal-comma"),
    pytest.param(_set("CLV", ["NaN", "20", "30", "40", "50", "60"]), "not-numeric", "error",
                 "CLV", [1], 1, ["missing or infinite", "leave the cell empty"], id="NaN-word"),
    pytest.param(_set("CLV", ["10", "inf", "30", "40", "50", "60"]), "not-numeric", "error",
                 "CLV", [2], 1, ["missing or infinite", "row 2: 'inf'"], id="inf-word"),
    pytest.param(_set("CLV", ["10", "20", "30", "40", "50", "-"]), "not-numeric", "error",
                 "CLV", [6], 1, ["missing or infinite", "row 6: '-'"], id="dash-word"),
    pytest.param(_set("CLV", [10.0, 20.0, np.inf, 40.0, 50.0, 60.0]), "not-numeric", "error",
                 "CLV", [3], 1, ["missing or infinite"], id="float-inf"),
    pytest.param(_set("CLV", ["abc", "20", "x", "y", "z", "60"]), "not-numeric", "error",
                 "CLV", [1, 3, 4], 4, ["4 non-numeric values", 'kind = "categorical"'],
                 id="text"),
    pytest.param(_set("CLV", [-5.0, 20.0, 30.0, 40.0, 50.0, 60.0]), "negative", "error", "CLV",
                 [1], 1, ["(value)", "1 negative value ", 'role = "attribute"'],
                 id="negative-value"),
    pytest.param(_set("minutes", [1.0, 2.0, np.nan, -4.0, 5.0, -6.0]), "negative", "error",
                 "minutes", [4, 6], 2, ["(engagement)", "2 negative values"],
                 id="negative-engagement"),
    pytest.param(_set("channel", [1, 2, 3, 2, 1, 3]), "unknown-code", "error", "channel", [3, 6],
                 2, ["codes not in the spec's labels ('3'", "[columns.channel] labels"],
                 id="unknown-code"),
    pytest.param(_policy("CLV", "error", [10.0, np.nan, 30.0, 40.0, np.nan, 60.0]),
                 "missing-value", "error", "CLV", [2, 5], 2,
                 ["empty in 2 rows", "rows 2, 5", 'missing = "median"'], id="missing-error-num"),
    pytest.param(_policy("region", "error", ["n", None, "n", "e", "w", "  "]), "missing-value",
                 "error", "region", [2, 6], 2, ['missing = "unknown"'], id="missing-error-cat"),
    pytest.param(_policy("CLV", "drop", [10.0, np.nan, 30.0, 40.0, np.nan, 60.0]),
                 "dropped-rows", "warning", "CLV", [2, 5], 2, ["left out"], id="missing-drop"),
    pytest.param(_set("region", [None] * 6), "empty-column", "error", "region", [], 0,
                 ["'region' is entirely empty"], id="empty-none"),
    pytest.param(_set("CLV", [np.nan] * 6), "empty-column", "error", "CLV", [], 0,
                 ["'CLV' is entirely empty"], id="empty-nan"),
    pytest.param(_set("region", ["", " ", "", "  ", "", ""]), "empty-column", "error", "region",
                 [], 0, ["'region' is entirely empty"], id="empty-blank-str"),
    pytest.param(_set("CLV", ["", " ", "", "", "", ""]), "empty-column", "error", "CLV",
                 [], 0, ["'CLV' is entirely empty"], id="empty-blank-numeric"),
    pytest.param(_set("region", ["n", HUGE, "n", "e", "w", "s"]), "huge-cell", "error", "region",
                 [2], 1, ["longer than 10,000 characters", "(row 2)", "quoting"], id="huge-cell"),
    pytest.param(_constant("CLV", [5.0] * 6), "constant-column", "warning", "CLV", [], 0,
                 ["same value ('5.0')"], id="constant-numeric"),
    pytest.param(_constant("region", ["n"] * 6), "constant-column", "warning", "region", [], 0,
                 ["same value ('n')"], id="constant-categorical"),
    pytest.param(_no_id, "duplicate-rows", "warning", None, [4, 6], 2,
                 ["2 rows repeat an earlier row", "rows 4, 6"], id="duplicate-rows"),
    # a decimal-comma export shifted the columns: '5;0' landed in the integer codes
    pytest.param(_set("region", ["0", "1", "2", "1", "5;0", "0"]), "not-integer-code", "error",
                 "region", [5], 1, ["'region' holds integer codes", "1 row has a value that is not "
                                    "one (row 5: '5;0')", "[columns.region] labels"],
                 id="not-integer-code"),
    pytest.param(_set("region", [0, 1, 2, 1, 2.5, 0]), "not-integer-code", "error", "region", [5],
                 1, ["row 5: '2.5'"], id="not-integer-code-float"),
]


@pytest.mark.parametrize("values", [
    ["n", "s", "1", "e", "w", "s"],  # text codes, one of them a number
    ["1", "A", "2", "B", "1", "2"],  # a third of the values: text codes, not errors
    ["0", "1", "2", "1", "2", "0"],  # integer codes
])
def test_text_codes_are_not_integer_codes_with_errors(values):
    df = frame()
    df["region"] = values
    assert validate(df, spec()).problems == []


def test_stray_values_are_errors_up_to_one_percent_of_the_cells():
    df = pd.concat([frame()] * 50, ignore_index=True)  # 300 rows
    df["customer_id"] = [f"c{i}" for i in range(len(df))]
    df["region"] = ["0", "1", "2"] * 100
    df.loc[[7, 123, 250], "region"] = "x"  # 3 of 300 cells: 1%
    problems = validate(df, spec()).problems
    assert [(p.code, p.rows, p.count) for p in problems] == [("not-integer-code", [8, 124, 251], 3)]
    df.loc[9, "region"] = "y"  # 4 of 300: more than 1%, a column of text codes
    assert validate(df, spec()).problems == []


@pytest.mark.parametrize(("change", "code", "severity", "column", "rows", "count", "words"), CASES)
def test_each_check(change, code, severity, column, rows, count, words):
    df, sp = change(frame(), spec())
    result = validate(df, sp)
    assert [(p.code, p.severity, p.column, p.rows, p.count) for p in result.problems] == [
        (code, severity, column, rows, count)
    ]
    message = result.problems[0].message
    for word in words:
        assert word in message
    if severity == "error":
        assert_one_line_with_fix(message)
        with pytest.raises(ValidationError) as info:
            check(df, sp)
        assert info.value.lines == [message]
        assert str(info.value) == message
    else:
        check(df, sp)  # warnings do not stop the run


def test_cell_of_exactly_max_chars_is_fine():
    df = frame()
    df["region"] = ["x" * MAX_CELL_CHARS] + ["n"] * 5
    assert validate(df, spec()).problems == []


def test_negative_attribute_is_fine():
    sp = spec()
    sp.columns["CLV"].role = "attribute"
    df = frame()
    df["CLV"] = [-5.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert validate(df, sp).problems == []


def test_constant_describe_column_is_not_warned():
    df, sp = _constant("region", ["n"] * 6, describe_only=True)(frame(), spec())
    assert validate(df, sp).problems == []


def test_ignored_column_is_not_unexpected():
    sp = spec()
    sp.ignore = ["notes"]
    df = frame()
    df["notes"] = ["x"] * 6
    assert validate(df, sp).problems == []


def test_drop_policy_marks_rows():
    df, sp = _policy("CLV", "drop", [10.0, np.nan, 30.0, 40.0, np.nan, 60.0])(frame(), spec())
    assert validate(df, sp).drop.tolist() == [False, True, False, False, True, False]


def test_row_numbers_are_positions_not_index_labels():
    df = frame()
    df.index = [10, 20, 30, 40, 50, 60]
    df["CLV"] = [10.0, 20.0, -30.0, 40.0, 50.0, 60.0]
    (problem,) = validate(df, spec()).problems
    assert problem.rows == [3]


# ---------------------------------------------------------- too few rows
def test_too_few_rows():
    result = validate(frame(), spec(), min_rows=7)
    (problem,) = result.problems
    assert (problem.code, problem.severity, problem.rows, problem.count) == (
        "too-few-rows", "error", [], 0)
    assert "6 usable rows" in problem.message and "at least 7" in problem.message
    assert_one_line_with_fix(problem.message)


def test_too_few_rows_counts_rows_left_after_drop():
    df, sp = _policy("CLV", "drop", [10.0, np.nan, 30.0, 40.0, np.nan, 60.0])(frame(), spec())
    codes = [p.code for p in validate(df, sp, min_rows=5).problems]
    assert codes == ["dropped-rows", "too-few-rows"]  # 6 rows - 2 dropped = 4 < 5


# ------------------------------------ problems that stop validation at once
def test_missing_column_suggests_the_close_name():
    df = frame().rename(columns={"region": "regoin"})
    with pytest.raises(ValidationError) as info:
        validate(df, spec())
    problems = info.value.problems
    # one mistake, one line: the misspelt column is the suggestion, not also "unexpected"
    assert [(p.code, p.column) for p in problems] == [("missing-column", "region")]
    assert "did you mean 'regoin'?" in problems[0].message
    assert len(info.value.lines) == 1
    for line in info.value.lines:
        assert_one_line_with_fix(line)
    assert str(info.value).startswith("column 'region' named in the spec is missing")


def test_missing_column_suggestion_ignores_case_and_other_columns_stay_unexpected():
    df = frame().rename(columns={"region": "REGION"})
    df["extra"] = 1
    with pytest.raises(ValidationError) as info:
        validate(df, spec())
    problems = info.value.problems
    assert [(p.code, p.column) for p in problems] == [
        ("missing-column", "region"), ("unexpected-column", "extra")]
    assert "did you mean 'REGION'?" in problems[0].message


def test_missing_id_column():
    df = frame().drop(columns="customer_id")
    with pytest.raises(ValidationError) as info:
        validate(df, spec())
    assert [(p.code, p.column) for p in info.value.problems] == [
        ("missing-column", "customer_id")]


def test_no_rows():
    df = frame().iloc[:0]
    with pytest.raises(ValidationError, match="the data has no rows") as info:
        validate(df, spec())
    assert [p.code for p in info.value.problems] == ["no-rows"]
    assert_one_line_with_fix(str(info.value))


def test_too_many_columns():
    df = pd.DataFrame(np.zeros((2, 1001)), columns=[f"c{i}" for i in range(1001)])
    with pytest.raises(ValidationError, match="the data has 1001 columns") as info:
        validate(df, spec())
    assert [p.code for p in info.value.problems] == ["too-many-columns"]
    assert_one_line_with_fix(str(info.value))


# ------------------------------------------------------- all errors at once
def test_all_errors_are_reported_at_once():
    df = frame()
    df["customer_id"] = ["a", "b", "c", "a", "e", "f"]  # duplicate id, rows 1 and 4
    df["CLV"] = ["10", "20", "oops", "40", "50", "60"]  # not a number, row 3
    df["channel"] = [1, 2, 1, 2, 9, 2]  # unknown code, row 5
    result = validate(df, spec())
    assert [(p.code, p.rows) for p in result.errors] == [
        ("duplicate-id", [1, 4]), ("not-numeric", [3]), ("unknown-code", [5])]
    with pytest.raises(ValidationError) as info:
        check(df, spec())
    err = info.value
    assert len(err.lines) == 3
    for line, name in zip(err.lines, ["customer_id", "CLV", "channel"], strict=True):
        assert_one_line_with_fix(line, name)
    assert str(err).startswith("3 problems in the data; first: id column 'customer_id'")
    assert "\n" not in str(err)
    assert [p["code"] for p in err.to_dict()["problems"]] == [
        "duplicate-id", "not-numeric", "unknown-code"]


def test_warnings_are_not_in_validation_error():
    df, sp = _policy("CLV", "drop", [10.0, np.nan, 30.0, 40.0, np.nan, 60.0])(frame(), spec())
    df["channel"] = [1, 2, 1, 2, 9, 2]
    with pytest.raises(ValidationError) as info:
        check(df, sp)
    assert [p.code for p in info.value.problems] == ["unknown-code"]


# ------------------------------------------------------------------ coercion
def test_validated_frame_types():
    df = frame()
    df["CLV"] = pd.Series([" 3.5", "20", "", "4e1", "50", None], dtype=object)
    df["channel"] = [1.0, 2.0, np.nan, 2.0, 1.0, 1.0]
    df["region"] = [" 2 ", "s", "", "e", None, "s"]
    result = validate(df, spec())
    assert result.problems == []
    clv = result.frame["CLV"].to_numpy()
    assert clv.dtype == np.float64
    np.testing.assert_array_equal(clv, [3.5, 20.0, np.nan, 40.0, 50.0, np.nan])
    # empty cells are NA (None in the arrays; pandas may store them as NaN in a str column)
    channel, region = result.frame["channel"], result.frame["region"]
    assert channel.isna().tolist() == [False, False, True, False, False, False]
    assert channel.dropna().tolist() == ["1", "2", "2", "1", "1"]
    assert region.isna().tolist() == [False, False, True, False, True, False]
    assert region.dropna().tolist() == ["2", "s", "e", "s"]


@pytest.mark.parametrize(
    ("values", "dtype", "codes"),
    [
        ([1.0, 2.0, np.nan], "float64", ["1", "2", None]),
        ([1.5, -3.0], "float64", ["1.5", "-3"]),
        ([1, 2], "int64", ["1", "2"]),
        ([1, None], "Int64", ["1", None]),
        ([" 2 ", "", "x"], "str", ["2", None, "x"]),
        ([True, False], "bool", ["True", "False"]),
        ([1.0, "2", 3, " a ", None], "object", ["1", "2", "3", "a", None]),
    ],
)
def test_coerce_codes(values, dtype, codes):
    got = coerce_codes(pd.Series(values, dtype=dtype))
    assert [None if pd.isna(v) else v for v in got.tolist()] == codes


@pytest.mark.parametrize(
    ("values", "dtype", "numbers", "bad"),
    [
        (["3.5", " 2 ", "", None], "str", [3.5, 2.0, np.nan, np.nan], [False] * 4),
        (["1,234", "NaN", "-", "7"], "str", [np.nan, np.nan, np.nan, 7.0],
         [True, True, True, False]),
        # an infinite cell is reported once, as not numeric, and read as empty
        ([1.0, np.nan, -np.inf], "float64", [1.0, np.nan, np.nan], [False, False, True]),
        ([True, False], "bool", [1.0, 0.0], [False, False]),
    ],
)
def test_coerce_numeric(values, dtype, numbers, bad):
    got, got_bad = coerce_numeric(pd.Series(values, dtype=dtype))
    np.testing.assert_array_equal(got, numbers)
    assert got_bad.tolist() == bad


def test_large_counts_are_written_with_thousands_separators():
    sp = parse_spec(
        'cluster_on = ["x"]\n[columns.x]\nkind = "numeric"\nrole = "value"\n')
    df = pd.DataFrame({"x": [1.0, 2.0] + [3.0] * 1_201})  # 1,200 rows repeat row 3
    problem = next(p for p in validate(df, sp, min_rows=0).problems
                   if p.code == "duplicate-rows")
    assert problem.count == 1_200
    assert problem.message.startswith("1,200 rows repeat an earlier row exactly (rows 4, 5, 6 "
                                      "and 1,197 more)")
