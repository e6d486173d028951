"""Tests of custseg._messages, the pieces of the one-line messages (expected texts written out)."""

from __future__ import annotations

import pytest

from custseg._messages import (
    count_text,
    did_you_mean,
    examples_text,
    more_text,
    number_mistakes,
    rows_text,
    short_text,
)


@pytest.mark.parametrize(("args", "text"), [
    ((1, "value"), "1 value"),
    ((3, "value"), "3 values"),
    ((0, "row"), "0 rows"),
    ((30658, "value"), "30,658 values"),
    ((1, "row repeats", "rows repeat"), "1 row repeats"),
    ((2, "row repeats", "rows repeat"), "2 rows repeat"),
])
def test_count_text(args, text):
    assert count_text(*args) == text


def test_short_text_cuts_at_40_characters():
    assert short_text("x" * 40) == "x" * 40
    assert short_text("x" * 41) == "x" * 37 + "..."
    assert short_text(12.5) == "12.5"


def test_examples_and_rows():
    assert examples_text([3, 7], ["1,234.50", "y" * 50]) == f"row 3: '1,234.50', row 7: '{'y' * 37}...'"
    assert rows_text([3], 1) == "row 3"
    assert rows_text([3, 5], 2) == "rows 3, 5"
    assert rows_text([3, 5, 9], 1205) == "rows 3, 5, 9 and 1,202 more"
    assert more_text([3, 5], 2) == ""
    assert more_text(["a"], 4) == " and 3 more"


def test_did_you_mean_with_and_without_case():
    assert did_you_mean("amuont", ["customer_id", "amount"]) == "; did you mean 'amount'?"
    assert did_you_mean("zzz", ["customer_id", "amount"]) == ""
    # case counts unless ignored; ignored, the option is named as it is spelt
    assert did_you_mean("AMOUNT", ["amount"]) == ""
    assert did_you_mean("AMOUNT", ["amount"], ignore_case=True) == "; did you mean 'amount'?"
    assert did_you_mean("amount", ["Amount_EUR"], ignore_case=True) == "; did you mean 'Amount_EUR'?"


@pytest.mark.parametrize(("values", "found"), [
    (["1,234.50"], {"thousands"}),
    (["1.234,5", "1 234"], {"thousands"}),
    (["12,5"], {"decimal-comma"}),
    ([" N/A ", "-", "#DIV/0!"], {"placeholder"}),
    (["abc", "12x"], set()),
    (["n/a", "12,5"], {"placeholder", "decimal-comma"}),
])
def test_number_mistakes(values, found):
    assert number_mistakes(values) == found
