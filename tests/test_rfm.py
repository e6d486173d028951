"""Tests of custseg.rfm (transaction log -> RFM features, scores, segments) and of
custseg.datasets.make_transactions.

Expected values are worked out by hand in the comments; the CDNOW tests compare the
lifetimes convention with an independent pandas computation.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from custseg.datasets import make_transactions
from custseg.errors import InputError, ParameterError, ValidationError
from custseg.io import read_table
from custseg.rfm import (
    DEFAULT_COLUMNS,
    DEFAULT_RFM_RULES,
    FALLBACK_SEGMENT,
    LIFETIMES_COLUMNS,
    TransactionColumns,
    aggregate,
    check_transactions,
    guess_transaction_columns,
    rfm_scores,
    rfm_segment_summary,
    rfm_segments,
    validate_and_aggregate,
    validate_transactions,
)

TODAY = "2024-06-30"
COLS = TransactionColumns(customer="customer_id", date="date", amount="amount", quantity="qty",
                          order="order_id")
CDNOW_COLS = TransactionColumns(customer="customer_id", date="date", amount="dollar_value",
                                quantity="number_of_cds")
GEN_COLS = TransactionColumns(customer="customer_id", date="date", amount="amount",
                              quantity="quantity", order="order_id")


def tiny_log() -> pd.DataFrame:
    """Three customers over January 2024; the last transaction is on 2024-01-31."""
    return pd.DataFrame(
        [
            # customer a: two orders on Jan 1 (o1 has two lines), one on Jan 11, a return on Jan 21
            ("a", "2024-01-01", 10.00, 1, "o1"),   # row 1
            ("a", "2024-01-01", 5.00, 2, "o1"),    # row 2
            ("a", "2024-01-01", 20.00, 1, "o2"),   # row 3
            ("a", "2024-01-11", 30.00, 3, "o3"),   # row 4
            ("a", "2024-01-21", -5.00, -1, "o3"),  # row 5: return of part of o3
            # customer b: one order
            ("b", "2024-01-05", 40.00, 4, "o4"),   # row 6
            # customer c: three orders on three days, the last on the last day of the log
            ("c", "2024-01-10", 8.00, 1, "o5"),    # row 7
            ("c", "2024-01-20", 12.00, 2, "o6"),   # row 8
            ("c", "2024-01-31", 16.00, 1, "o7"),   # row 9
        ],
        columns=["customer_id", "date", "amount", "qty", "order_id"],
    )


def by_customer(frame: pd.DataFrame) -> dict:
    return frame.set_index("customer_id").to_dict("index")


# ============================================================== aggregate: default convention


def test_default_convention_by_hand():
    out = aggregate(tiny_log(), COLS, today=TODAY)
    assert list(out.columns) == ["customer_id", *DEFAULT_COLUMNS]
    assert out["customer_id"].tolist() == ["a", "b", "c"]
    assert out.attrs["as_of"] == "2024-01-31"  # the last transaction's date (row 9)
    rows = by_customer(out)
    a, b, c = rows["a"], rows["b"], rows["c"]
    # a: purchases on Jan 1 and Jan 11; the return on Jan 21 is neither an order nor a purchase day
    assert a["first_purchase"] == pd.Timestamp("2024-01-01")
    assert a["last_purchase"] == pd.Timestamp("2024-01-11")
    assert a["recency_days"] == 20                 # Jan 31 - Jan 11
    assert a["frequency_orders"] == 3              # o1, o2, o3
    assert a["purchase_days"] == 2                 # Jan 1, Jan 11
    assert a["monetary_total"] == 60.0             # 10 + 5 + 20 + 30 - 5
    assert a["monetary_mean"] == pytest.approx(65 / 3)  # purchases 65 over 3 orders
    assert a["avg_order_value"] == 20.0            # 60 / 3
    assert a["tenure_days"] == 30                  # Jan 31 - Jan 1
    assert a["mean_interpurchase_days"] == 10.0    # (Jan 11 - Jan 1) / (2 - 1)
    assert a["total_quantity"] == 6                # 1 + 2 + 1 + 3 - 1
    # b: one order on Jan 5
    assert (b["recency_days"], b["frequency_orders"], b["purchase_days"]) == (26, 1, 1)
    assert (b["monetary_total"], b["monetary_mean"], b["avg_order_value"]) == (40.0, 40.0, 40.0)
    assert b["tenure_days"] == 26 and np.isnan(b["mean_interpurchase_days"])  # one purchase day
    assert b["total_quantity"] == 4
    # c: Jan 10, 20, 31
    assert (c["recency_days"], c["frequency_orders"], c["purchase_days"]) == (0, 3, 3)
    assert (c["monetary_total"], c["monetary_mean"], c["avg_order_value"]) == (36.0, 12.0, 12.0)
    assert c["tenure_days"] == 21                  # Jan 31 - Jan 10
    assert c["mean_interpurchase_days"] == 10.5    # 21 days / 2 gaps
    assert out["recency_days"].dtype == np.int64 and out["monetary_total"].dtype == np.float64
    assert out["first_purchase"].dtype.kind == "M"


def test_without_order_column_rows_are_orders():
    cols = TransactionColumns("customer_id", "date", "amount")
    out = by_customer(aggregate(tiny_log(), cols, today=TODAY))
    # a has 4 purchase rows (rows 1-4); the return (row 5) is not an order
    assert [out[c]["frequency_orders"] for c in "abc"] == [4, 1, 3]
    assert out["a"]["avg_order_value"] == 15.0  # 60 / 4
    assert "total_quantity" not in aggregate(tiny_log(), cols, today=TODAY).columns


def test_as_of_leaves_out_later_transactions():
    out = by_customer(aggregate(tiny_log(), COLS, as_of="2024-01-15", today=TODAY))
    # a: the return of Jan 21 is after as_of, so the total is 10 + 5 + 20 + 30 = 65
    assert (out["a"]["recency_days"], out["a"]["monetary_total"], out["a"]["tenure_days"]) == (4, 65.0, 14)
    # c: only the purchase of Jan 10 is on or before Jan 15
    assert (out["c"]["recency_days"], out["c"]["frequency_orders"], out["c"]["monetary_total"]) == (5, 1, 8.0)
    warnings = validate_transactions(tiny_log(), COLS, as_of="2024-01-15", today=TODAY).warnings
    assert [w.message for w in warnings] == [
        "3 transactions dated after as_of (2024-01-15) are left out (rows 5, 8, 9)"]


# ============================================================== aggregate: lifetimes convention


def test_lifetimes_convention_by_hand():
    out = aggregate(tiny_log(), COLS, convention="lifetimes", today=TODAY)
    assert list(out.columns) == ["customer_id", *LIFETIMES_COLUMNS]
    assert all(out[c].dtype == np.float64 for c in LIFETIMES_COLUMNS)
    rows = by_customer(out)
    # a: purchase days Jan 1 (10 + 5 + 20 = 35, three rows count once) and Jan 11 (30); the
    # return is no purchase day. frequency = 2 days - 1; recency = Jan 11 - Jan 1; T = Jan 31 - Jan 1;
    # monetary_value = mean over the repeat days only = 30
    assert rows["a"] == {"frequency": 1.0, "recency": 10.0, "T": 30.0, "monetary_value": 30.0}
    # b: a one-time buyer: frequency 0, recency 0, monetary_value 0
    assert rows["b"] == {"frequency": 0.0, "recency": 0.0, "T": 26.0, "monetary_value": 0.0}
    # c: days Jan 10 (8), Jan 20 (12), Jan 31 (16): repeat days' mean (12 + 16) / 2 = 14
    assert rows["c"] == {"frequency": 2.0, "recency": 21.0, "T": 21.0, "monetary_value": 14.0}


def test_lifetimes_same_day_purchases_count_one_day():
    log = pd.DataFrame({"customer_id": ["x"] * 4,
                        "date": ["2024-03-01", "2024-03-01", "2024-03-04", "2024-03-04"],
                        "amount": [1.0, 2.0, 3.0, 4.0]})
    out = aggregate(log, TransactionColumns("customer_id", "date", "amount"), convention="lifetimes",
                    today=TODAY)
    # two purchase days -> frequency 1; the repeat day's spend is 3 + 4 = 7
    assert by_customer(out)["x"] == {"frequency": 1.0, "recency": 3.0, "T": 3.0, "monetary_value": 7.0}


@pytest.fixture
def cdnow(cdnow_path):
    return read_table(cdnow_path)


def lifetimes_by_pandas(log: pd.DataFrame) -> pd.DataFrame:
    """summary_data_from_transaction_data(freq="D") re-derived with plain pandas."""
    day = pd.to_datetime(log["date"].astype(str), format="%Y%m%d")
    end = day.max()
    daily = (log.assign(day=day).groupby(["customer_id", "day"], as_index=False)["dollar_value"].sum())
    per = daily.groupby("customer_id")["day"].agg(["min", "max", "size"])
    first = daily["customer_id"].map(per["min"])
    repeat = daily[daily["day"] != first].groupby("customer_id")["dollar_value"].mean()
    return pd.DataFrame({
        "frequency": (per["size"] - 1).astype(float),
        "recency": (per["max"] - per["min"]).dt.days.astype(float),
        "T": (end - per["min"]).dt.days.astype(float),
        "monetary_value": repeat.reindex(per.index).fillna(0.0),
    })


def test_cdnow_lifetimes_convention_matches_pandas(cdnow):
    ours = aggregate(cdnow, CDNOW_COLS, convention="lifetimes").set_index("customer_id")
    expected = lifetimes_by_pandas(cdnow)
    assert len(ours) == len(expected) == 23_570
    assert ours.index.equals(expected.index)  # every customer, sorted by id
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), expected[column].to_numpy())
    np.testing.assert_allclose(ours["monetary_value"].to_numpy(), expected["monetary_value"].to_numpy(),
                               rtol=1e-12, atol=1e-12)
    # about half of CDNOW's customers bought on one day only
    assert 0.45 < (ours["frequency"] == 0).mean() < 0.6


def test_cdnow_validation_reports_duplicates_and_zero_value_customers(cdnow_path):
    result = validate_transactions(cdnow_path, CDNOW_COLS)  # the whitespace file, via read_table
    assert result.errors == []
    by_code = {p.code: p for p in result.warnings}
    assert set(by_code) == {"duplicate-rows", "zero-value-only"}
    assert by_code["duplicate-rows"].count == 255
    assert by_code["duplicate-rows"].message.startswith("255 rows repeat an earlier row exactly (rows ")
    zero = by_code["zero-value-only"]
    assert zero.count == 68
    assert zero.message.startswith("68 customers have only zero-value purchases in column 'dollar_value'")
    assert (result.n_rows, result.n_customers) == (69_659, 23_570)
    assert (result.first_date, result.last_date) == (dt.date(1997, 1, 1), dt.date(1998, 6, 30))


# ============================================================== validation: bad logs


def clean_log() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"],
        "date": ["2024-01-01", "2024-01-05", "2024-01-03", "2024-01-04"],
        "amount": ["10.00", "20.00", "5.00", "7.50"],
        "currency": ["EUR"] * 4,
    })


BAD_LOGS = [
    ("unparseable-date", {"date": ["2024-01-01", "yesterday", "2024-02-30", "2024-01-04"]}, "net",
     "column 'date' has 2 values that are not dates (row 2: 'yesterday', row 3: '2024-02-30'); "
     "fix: write dates as ISO dates (2024-01-31), ISO date-times (2024-01-31 14:05:00) or yyyymmdd "
     "numbers (20240131)"),
    ("future-date", {"date": ["2024-01-01", "2024-01-05", "2025-01-03", "2024-01-04"]}, "net",
     "column 'date' has 1 date later than today, 2024-06-30 (row 3: '2025-01-03'); fix: correct it "
     "(a wrong year, or day and month swapped?) or remove that row"),
    ("negative-with-error", {"amount": ["10.00", "-20.00", "5.00", "7.50"]}, "error",
     "column 'amount' has 1 negative amount, i.e. a return (row 2: '-20.00'); fix: pass "
     "--returns net (returns = \"net\" in the spec) to net returns against the customer's "
     "purchases, or --returns drop to leave them out"),
    ("several-currencies", {"currency": ["EUR", "USD", "EUR", "GBP"]}, "net",
     "column 'currency' holds 3 currencies (EUR: 2 rows, GBP: 1 row, USD: 1 row) and custseg does "
     "not convert between them; fix: convert the amounts to one currency first, or analyse each "
     "currency separately (filter the log to one)"),
    ("missing-column", {"rename": {"amount": "amount_eur"}}, "net",
     "column 'amount' given as the amount column is missing from the log (columns there: "
     "customer_id, date, amount_eur, currency); fix: did you mean 'amount_eur'? pass the name of the "
     "amount column as it is in the log"),
    ("non-numeric-amount", {"amount": ["10.00", "ten", "5.00", "7.50"]}, "net",
     "column 'amount' has 1 value that is not a number (row 2: 'ten'); fix: correct those cells: "
     "amounts must be plain numbers such as 12.50"),
    ("thousands-separator", {"amount": ["10.00", "1,250.00", "5.00", "7.50"]}, "net",
     "column 'amount' has 1 value that is not a number (row 2: '1,250.00'); fix: export plain "
     "numbers without thousands separators (1234.5, not 1,234.5)"),
    ("empty-customer", {"customer_id": ["a", "", "b", None]}, "net",
     "column 'customer_id' (the customer id) is empty in 2 rows (rows 2, 4); fix: give every "
     "transaction its customer's id, or remove those rows"),
    ("blank-customer", {"customer_id": ["a", "  ", "b", " "]}, "net",
     "column 'customer_id' (the customer id) is empty in 2 rows (rows 2, 4); fix: give every "
     "transaction its customer's id, or remove those rows"),
    ("bad-yyyymmdd", {"date": [20240101, 20241301, 20240103, 20240104]}, "net",
     "column 'date' has 1 value that is not a date (row 2: '20241301'); fix: write dates as ISO "
     "dates (2024-01-31), ISO date-times (2024-01-31 14:05:00) or yyyymmdd numbers (20240131)"),
]


@pytest.mark.parametrize(("case", "change", "returns", "message"), BAD_LOGS, ids=[c[0] for c in BAD_LOGS])
def test_bad_log_gives_one_line_message(case, change, returns, message):
    log = clean_log()
    change = dict(change)
    log = log.rename(columns=change.pop("rename", {}))
    for column, values in change.items():
        log[column] = values
    cols = TransactionColumns("customer_id", "date", "amount", currency="currency")
    with pytest.raises(ValidationError) as info:
        check_transactions(log, cols, returns=returns, today=TODAY)
    assert info.value.lines == [message]
    assert "\n" not in message


def test_aggregate_raises_on_errors_and_validator_does_not():
    log = clean_log().assign(amount=["10.00", "ten", "5.00", "7.50"])
    cols = TransactionColumns("customer_id", "date", "amount")
    result = validate_transactions(log, cols, today=TODAY)
    assert [p.code for p in result.errors] == ["not-numeric"] and not result.ok
    with pytest.raises(ValidationError, match="^column 'amount' has 1 value that is not a number"):
        aggregate(log, cols, today=TODAY)
    # with check=False the log is taken as valid: the unreadable row is skipped
    assert aggregate(log, cols, today=TODAY, check=False)["monetary_total"].tolist() == [10.0, 5.0, 7.5]


def test_every_problem_is_listed_at_once():
    log = clean_log().assign(date=["2024-01-01", "nope", "2030-01-01", "2024-01-04"],
                             amount=["10", "x", "5", ""], currency=["EUR", "USD", "EUR", "EUR"])
    result = validate_transactions(log, TransactionColumns("customer_id", "date", "amount",
                                                           currency="currency"), today=TODAY)
    assert [p.code for p in result.errors] == [
        "bad-date", "future-date", "missing-amount", "not-numeric", "several-currencies"]
    assert [p.rows for p in result.errors][:4] == [[2], [3], [4], [2]]


def test_clean_log_and_iso_datetimes_have_no_problems():
    log = tiny_log().assign(date=lambda d: d["date"] + "T23:30:00+05:00")
    result = check_transactions(log, COLS, today=TODAY)
    assert result.problems == [] and result.n_customers == 3 and result.as_of == dt.date(2024, 1, 31)
    # the date as written counts (the time and the offset are dropped)
    assert aggregate(log, COLS, today=TODAY).equals(aggregate(tiny_log(), COLS, today=TODAY))


def test_duplicates_count_rows_repeating_an_earlier_row():
    log = pd.concat([tiny_log(), tiny_log().iloc[[5, 5, 6]]], ignore_index=True)  # rows 10-12
    (problem,) = validate_transactions(log, COLS, today=TODAY).warnings
    # row 6 appears three times (2 repeats), row 7 twice (1 repeat)
    assert problem.message == ("3 rows repeat an earlier row exactly (rows 10, 11, 12); they are kept; "
                               "fix: pass --drop-duplicates (drop_duplicates = true in the spec) if "
                               "they are the same purchase recorded twice")
    kept = aggregate(log, COLS, today=TODAY)
    dropped = aggregate(log, COLS, drop_duplicates=True, today=TODAY)
    assert kept["monetary_total"].tolist() == [60.0, 120.0, 44.0]  # b: 3 x 40; c: 36 + 8
    pd.testing.assert_frame_equal(dropped, aggregate(tiny_log(), COLS, today=TODAY))


def test_duplicates_with_empty_cells_and_signed_zeros():
    extra = pd.DataFrame({"customer_id": ["e", "e", "f", "f"],
                          "date": ["2024-01-06", "2024-01-06", "2024-01-07", "2024-01-07"],
                          "amount": [7.0, 7.0, 3.0, 3.0], "qty": [np.nan, np.nan, 0.0, -0.0],
                          "order_id": [None, None, "o9", "o9"]})
    log = pd.concat([tiny_log(), extra], ignore_index=True)  # rows 10-13
    (problem,) = validate_transactions(log, COLS, today=TODAY).warnings
    # empty cells equal empty cells and 0.0 equals -0.0, as in a GROUP BY on every column
    assert (problem.code, problem.rows, problem.count) == ("duplicate-rows", [11, 13], 2)


def test_duplicates_survive_a_hash_collision_check_on_large_logs():
    # many distinct rows and a few repeats: only rows that are equal in every column count
    log = make_transactions(2000, seed=5)
    repeated = log.iloc[[10, 500, 500]]
    log = pd.concat([log, repeated], ignore_index=True)
    (problem,) = [p for p in validate_transactions(log, GEN_COLS, today=TODAY).problems
                  if p.code == "duplicate-rows"]
    n = len(log)
    assert (problem.rows, problem.count) == ([n - 2, n - 1, n], 3)


def test_zero_value_only_customer_is_a_warning():
    log = pd.concat([tiny_log(), pd.DataFrame({"customer_id": ["z"], "date": ["2024-01-02"],
                                               "amount": [0.0], "qty": [1], "order_id": ["o9"]})])
    (problem,) = validate_transactions(log, COLS, today=TODAY).problems
    assert problem.message == ("1 customer has only zero-value purchases in column 'amount' ('z'); "
                               "it is kept, with a monetary value of 0")
    assert by_customer(aggregate(log, COLS, today=TODAY))["z"]["monetary_total"] == 0.0


# ============================================================== returns


def returns_log() -> pd.DataFrame:
    return pd.concat([tiny_log(), pd.DataFrame({
        # d buys 5 on Jan 2 and returns 15 on Jan 3: net -10
        "customer_id": ["d", "d"], "date": ["2024-01-02", "2024-01-03"], "amount": [5.0, -15.0],
        "qty": [1, -1], "order_id": ["o8", "o8"]})], ignore_index=True)  # rows 10, 11


def test_returns_net():
    result = validate_transactions(returns_log(), COLS, today=TODAY)
    assert [p.message for p in result.problems] == [
        "1 customer has returns exceeding purchases (net spend below 0 in column 'amount': 'd': "
        "-10.00) and is left out; fix: check those returns, or pass returns=\"drop\" to ignore returns"]
    assert result.n_customers == 3
    out = by_customer(aggregate(returns_log(), COLS, today=TODAY))
    assert sorted(out) == ["a", "b", "c"]
    assert out["a"]["monetary_total"] == 60.0  # 65 of purchases - 5 returned


def test_default_as_of_is_the_last_date_of_any_row_returns_included():
    late_return = pd.DataFrame({"customer_id": ["b"], "date": ["2024-02-10"], "amount": [-10.0],
                                "qty": [-1], "order_id": ["o4"]})
    log = pd.concat([tiny_log(), late_return], ignore_index=True)
    out = aggregate(log, COLS, today=TODAY)
    assert out.attrs["as_of"] == "2024-02-10"
    assert by_customer(out)["c"]["recency_days"] == 10  # Jan 31 -> Feb 10
    assert validate_transactions(log, COLS, today=TODAY).as_of == dt.date(2024, 2, 10)


def test_returns_drop():
    result = validate_transactions(returns_log(), COLS, returns="drop", today=TODAY)
    assert [p.message for p in result.problems] == [
        "2 rows with a negative amount (returns) in column 'amount' are left out (returns=\"drop\"; "
        "rows 5, 11)"]
    out = by_customer(aggregate(returns_log(), COLS, returns="drop", today=TODAY))
    assert sorted(out) == ["a", "b", "c", "d"]
    # a: 10 + 5 + 20 + 30 = 65 over 3 orders; quantity 1 + 2 + 1 + 3 = 7
    assert (out["a"]["monetary_total"], out["a"]["avg_order_value"], out["a"]["total_quantity"]) == (
        65.0, pytest.approx(65 / 3), 7)
    assert out["d"]["monetary_total"] == 5.0


def test_returns_error():
    (problem,) = validate_transactions(returns_log(), COLS, returns="error", today=TODAY).problems
    assert problem.severity == "error" and problem.rows == [5, 11] and problem.count == 2


def test_net_returns_are_exact():
    log = pd.DataFrame({"customer_id": ["a", "a"], "date": ["2024-01-01", "2024-01-02"],
                        "amount": [0.1 + 0.2, -0.3]})  # 0.30000000000000004 - 0.3 in floats
    cols = TransactionColumns("customer_id", "date", "amount")
    assert validate_transactions(log, cols, today=TODAY).problems == []
    assert aggregate(log, cols, today=TODAY)["monetary_total"].tolist() == [0.0]


# ============================================================== sources


def test_parquet_and_csv_files_equal_the_dataframe(tmp_path):
    log = make_transactions(300, seed=3)
    log.to_parquet(tmp_path / "log.parquet")
    log.to_csv(tmp_path / "log.csv", index=False)
    for convention in ("default", "lifetimes"):
        expected = aggregate(log, GEN_COLS, convention=convention, today=TODAY)
        for name in ("log.parquet", "log.csv"):
            pd.testing.assert_frame_equal(
                aggregate(tmp_path / name, GEN_COLS, convention=convention, today=TODAY), expected)


def test_file_row_numbers_count_data_rows(tmp_path):
    log = tiny_log()
    log.loc[6, "date"] = "someday"
    log.to_csv(tmp_path / "log.csv", index=False)
    log.to_parquet(tmp_path / "log.parquet")
    for source in (log, tmp_path / "log.csv", tmp_path / "log.parquet"):
        (problem,) = validate_transactions(source, COLS, today=TODAY).errors
        assert problem.rows == [7]


def test_duckdb_spills_to_a_temporary_directory_and_prints_nothing(tmp_path, monkeypatch, capfd):
    path = tmp_path / "log.parquet"
    tiny_log().to_parquet(path, index=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CUSTSEG_DUCKDB_MEMORY", "64MB")
    out = aggregate(path, COLS, today=TODAY)
    pd.testing.assert_frame_equal(out, aggregate(tiny_log(), COLS, today=TODAY))
    assert list(work.iterdir()) == []  # no .tmp spill directory in the working directory
    assert capfd.readouterr().out == ""  # no DuckDB progress bar
    monkeypatch.setenv("CUSTSEG_DUCKDB_MEMORY", "plenty")
    with pytest.raises(ParameterError, match="CUSTSEG_DUCKDB_MEMORY must be a size"):
        aggregate(path, COLS, today=TODAY)


def test_ragged_csv_raises_input_error(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("customer_id,date,amount\na,2024-01-01,1\nb,2024-01-02,2,3\n")
    with pytest.raises(InputError, match=r"^line 3 of .*log.csv has 4 fields but the header has 3; fix: "):
        validate_transactions(path, TransactionColumns("customer_id", "date", "amount"))


SHORT_FIX = (r"fix: add the missing fields \(an empty field still needs its comma ',', e\.g\. \"c1,,5\"\), "
             r"or rejoin a row that was broken across lines$")
LONG_FIX = (r"fix: quote fields that contain the comma ',' \(e\.g\. \"Smith, John\"\), or remove the extra "
            r"delimiter$")
RAGGED_LOG = ["a,2024-01-01,1", "a,2024-01-05,2", "b,2024-01-02,3", "c,2024-01-03,4"]


def _ragged_log(line: int, row: str, *, newline: str = "\n", final: bool = True) -> str:
    """The log with physical ``line`` (from 1; the header is line 1) replaced by ``row``."""
    lines = ["customer_id,date,amount", *RAGGED_LOG]
    lines[line - 1] = row
    return newline.join(lines) + (newline if final else "")


@pytest.mark.parametrize(("text", "line", "fields", "fix"), [
    (_ragged_log(3, "a,2024-01-05"), 3, 2, SHORT_FIX),
    (_ragged_log(3, "a,2024-01-05,2,x"), 3, 4, LONG_FIX),
    (_ragged_log(2, "a"), 2, 1, SHORT_FIX),
    (_ragged_log(5, "c,2024-01-03"), 5, 2, SHORT_FIX),
    (_ragged_log(5, "c,2024-01-03", final=False), 5, 2, SHORT_FIX),
    (_ragged_log(5, "c,2024-01-03,4,x", final=False), 5, 4, LONG_FIX),
    (_ragged_log(4, "b,2024-01-02", newline="\r\n"), 4, 2, SHORT_FIX),
    (_ragged_log(5, "c,2024-01-03", newline="\r\n", final=False), 5, 2, SHORT_FIX),
    # a quoted id holding a comma and a line break is one field: the short row starts on line 6
    (_ragged_log(5, "c,2024-01-03").replace("a,2024-01-01", '"a, first\nline",2024-01-01', 1),
     6, 2, SHORT_FIX),
], ids=["short", "long", "short-first-row", "short-last-row", "short-last-row-no-newline",
        "long-last-row-no-newline", "short-crlf", "short-last-row-crlf-no-newline",
        "short-after-quoted-newline"])
def test_a_ragged_row_stops_the_csv_reader(tmp_path, monkeypatch, text, line, fields, fix):
    # issue #16: a row with fewer fields than the header was read with empty cells, silently
    message = rf"^line {line} of .*log\.csv has {fields} fields but the header has 3; {fix}"
    path = tmp_path / "log.csv"
    path.write_bytes(text.encode())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    cols = TransactionColumns("customer_id", "date", "amount")
    for call in (validate_transactions, aggregate, validate_and_aggregate):
        with pytest.raises(InputError, match=message):
            call(path, cols, today=TODAY)
    assert list(scratch.iterdir()) == []  # DuckDB's scratch directory is removed


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_a_short_row_names_the_delimiter_in_its_fix(tmp_path, sep):
    path = tmp_path / "log.csv"
    path.write_text(_ragged_log(4, "b,2024-01-02").replace(",", sep))
    with pytest.raises(InputError, match=r"^line 4 of .* has 2 fields but the header has 3; fix: add the "
                                         r"missing fields \(an empty field still needs its "):
        aggregate(path, TransactionColumns("customer_id", "date", "amount"), today=TODAY)


def test_quoted_delimiters_and_line_breaks_are_not_ragged(tmp_path):
    log = tiny_log()
    log["customer_id"] = log["customer_id"].map({"a": "a, Inc.", "b": 'b "the\nsecond"', "c": "c;|x"})
    expected = aggregate(log, COLS, today=TODAY)
    for newline in ("\n", "\r\n"):
        path = tmp_path / "log.csv"
        log.to_csv(path, index=False, lineterminator=newline)
        assert '"a, Inc."' in path.read_text() and '"c;|x"' not in path.read_text()
        pd.testing.assert_frame_equal(aggregate(path, COLS, today=TODAY), expected)


def test_blank_lines_are_not_ragged(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text(_ragged_log(3, "") + "\n\n")
    out = aggregate(path, TransactionColumns("customer_id", "date", "amount"), today=TODAY)
    assert out["customer_id"].tolist() == ["a", "b", "c"]
    assert out["monetary_total"].tolist() == [1.0, 3.0, 4.0]


def test_bad_parameters():
    with pytest.raises(ParameterError, match=r"'returns' parameter .* got 'nett'; did you mean 'net'\?"):
        aggregate(tiny_log(), COLS, returns="nett")
    with pytest.raises(ParameterError, match="'convention' parameter"):
        aggregate(tiny_log(), COLS, convention="btyd")
    with pytest.raises(ParameterError, match="'as_of' parameter must be a date"):
        aggregate(tiny_log(), COLS, as_of="last tuesday")
    with pytest.raises(ParameterError, match=r"unknown transaction column role 'custome'; did you mean "
                                             r"'customer'\?"):
        TransactionColumns.from_dict({"custome": "id", "date": "d", "amount": "a"})
    with pytest.raises(ParameterError, match="both the customer and the order column"):
        TransactionColumns("id", "d", "a", order="id")


# ============================================================== scores


def test_quintile_scores_by_hand():
    frame = pd.DataFrame({"recency_days": [1, 5, 5, 9, 100], "frequency_orders": [10, 20, 20, 30, 40],
                          "monetary_total": [5.0, 4.0, 3.0, 2.0, 1.0]})
    out = rfm_scores(frame)
    # F: ranks (method="min") 1, 2, 2, 4, 5 -> score 1 + floor(5 * (rank - 1) / 5) = rank
    assert out["F"].tolist() == [1, 2, 2, 4, 5]
    # R: lower is better; ranks of -recency: 100 -> 1, 9 -> 2, 5 and 5 -> 3, 1 -> 5
    assert out["R"].tolist() == [5, 3, 3, 2, 1]
    assert out["M"].tolist() == [5, 4, 3, 2, 1]
    assert out["R"].dtype == np.int64


@pytest.mark.parametrize("values", [
    [3.0, 1.0, 1.0, 0.0, -0.0, 7.0],           # whole numbers: ranked by counting
    [2.5, 1.0, 2.5, np.inf, -np.inf, 0.1],     # other values: ranked by sorting
    [1e17, 1e17 + 16, 3.0],                    # whole but far apart: by sorting
    [5.0],
], ids=["whole", "fractional", "far-apart", "one"])
def test_min_rank_equals_pandas(values):
    from custseg.rfm.scores import min_rank

    key = np.array(values)
    np.testing.assert_array_equal(min_rank(key), pd.Series(key).rank(method="min").to_numpy())


def test_equal_values_get_one_score():
    frame = pd.DataFrame({"recency_days": [7] * 6, "frequency_orders": [1] * 6, "monetary_total": [9.5] * 6})
    out = rfm_scores(frame)
    assert set(out["R"]) == set(out["F"]) == set(out["M"]) == {1}


def test_scores_do_not_depend_on_row_order():
    customers = aggregate(make_transactions(400, seed=2), GEN_COLS, today=TODAY)
    scored = rfm_scores(customers).set_index("customer_id")
    shuffled = rfm_scores(customers.sample(frac=1.0, random_state=0)).set_index("customer_id")
    pd.testing.assert_frame_equal(shuffled.loc[scored.index, ["R", "F", "M"]], scored[["R", "F", "M"]])


def test_cdnow_frequency_has_fewer_than_five_levels(cdnow):
    scored = rfm_scores(aggregate(cdnow, CDNOW_COLS))
    # half of the customers bought once: they all share F = 1, and F skips 2
    assert sorted(scored["F"].unique()) == [1, 3, 4, 5]
    assert sorted(scored["R"].unique()) == sorted(scored["M"].unique()) == [1, 2, 3, 4, 5]
    assert (scored.loc[scored["frequency_orders"] == 1, "F"] == 1).all()


def test_explicit_cuts():
    frame = pd.DataFrame({"recency_days": [0, 30, 31, 90, 365, 366, 1000],
                          "frequency_orders": [1, 2, 3, 4, 5, 8, 9],
                          "monetary_total": [1.0] * 7})
    out = rfm_scores(frame, cuts={"recency": [30, 90, 180, 365], "frequency": [1, 2, 4, 8]})
    # each cut is the inclusive upper end of a band
    assert out["R"].tolist() == [5, 5, 4, 4, 2, 1, 1]
    assert out["F"].tolist() == [1, 2, 3, 3, 4, 4, 5]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"bins": 1}, "'bins' parameter of rfm_scores must be an integer >= 2"),
    ({"cuts": {"recency": [30, 90]}}, r"recency cuts must be 4 increasing numbers"),
    ({"cuts": {"recency": [90, 30, 180, 365]}}, r"recency cuts must be 4 increasing numbers"),
    ({"cuts": {"recncy": [1, 2, 3, 4]}}, r"unknown key 'recncy' in the RFM cuts; did you mean 'recency'\?"),
    ({"monetary": "monetary_totl"}, r"column 'monetary_totl' .* missing .*; did you mean 'monetary_total'\?"),
])
def test_bad_score_parameters(kwargs, match):
    frame = pd.DataFrame({"recency_days": [1, 2], "frequency_orders": [1, 2], "monetary_total": [1.0, 2.0]})
    with pytest.raises(ParameterError, match=match):
        rfm_scores(frame, **kwargs)


# ============================================================== segments


SEGMENT_CASES = [  # (R, F, M) -> the first matching default rule
    ((5, 5, 5), "Champions"),
    ((1, 5, 5), "Cannot lose them"),   # also At risk and Loyal: the specific rule comes first
    ((2, 4, 1), "At risk"),            # also Loyal
    ((1, 3, 3), "At risk"),
    ((3, 4, 2), "Loyal"),
    ((5, 4, 1), "Loyal"),
    ((4, 2, 1), "Potential loyalists"),
    ((5, 1, 5), "New"),
    ((1, 1, 1), "Lost"),               # also Hibernating
    ((2, 1, 1), "Hibernating"),
    ((1, 2, 5), "Hibernating"),
    ((3, 1, 5), FALLBACK_SEGMENT),
    ((3, 3, 3), FALLBACK_SEGMENT),
]


def test_segment_names_are_text():
    names = rfm_segments(pd.DataFrame({"R": [5, 1], "F": [5, 1], "M": [5, 1]}, index=[7, 3]))
    assert names.dtype == "str" and names.index.tolist() == [7, 3]
    assert names.tolist() == ["Champions", "Lost"]


def test_default_segment_rules():
    scores = pd.DataFrame([c[0] for c in SEGMENT_CASES], columns=["R", "F", "M"], index=range(10, 23))
    names = rfm_segments(scores)
    assert names.tolist() == [c[1] for c in SEGMENT_CASES]
    assert names.index.equals(scores.index) and names.name == "segment"
    assert [r["name"] for r in DEFAULT_RFM_RULES][-1] == FALLBACK_SEGMENT


def test_custom_rules_and_fallback():
    scores = pd.DataFrame({"R": [5, 1, 3], "F": [1, 1, 3], "M": [5, 2, 3]})
    rules = [{"name": "Big", "M": [5, 5]}, {"name": "Gone", "R": 1}]
    assert rfm_segments(scores, rules).tolist() == ["Big", "Gone", FALLBACK_SEGMENT]


@pytest.mark.parametrize(("rules", "match"), [
    ([{"name": "x", "f": [1, 2]}], r"unknown key 'f' in RFM segment rule 1; did you mean 'F'\?"),
    ([{"nam": "x"}], r"unknown key 'nam' in RFM segment rule 1; did you mean 'name'\?"),
    ([{"name": "x", "R": [4, 2]}], r"R in RFM segment rule 1 \('x'\) must be \[low, high\]"),
    ([{"R": [1, 2]}], r"RFM segment rule 1 needs a \"name\""),
    ([], "non-empty list"),
])
def test_bad_rules(rules, match):
    with pytest.raises(ParameterError, match=match):
        rfm_segments(pd.DataFrame({"R": [1], "F": [1], "M": [1]}), rules)


def test_segment_summary():
    scored = pd.DataFrame({"R": [5, 5, 1, 3], "F": [5, 4, 1, 3], "M": [5, 4, 1, 3],
                           "monetary_total": [60.0, 20.0, 5.0, 15.0]})
    names = rfm_segments(scored)  # Champions, Champions, Lost, Needs attention
    summary = rfm_segment_summary(scored, names)
    assert summary == [
        # in the order of the rules; value shares of the total 100
        {"segment": "Champions", "n": 2, "share": 0.5, "value_share": 0.8,
         "mean_R": 5.0, "mean_F": 4.5, "mean_M": 4.5},
        {"segment": "Lost", "n": 1, "share": 0.25, "value_share": 0.05,
         "mean_R": 1.0, "mean_F": 1.0, "mean_M": 1.0},
        {"segment": "Needs attention", "n": 1, "share": 0.25, "value_share": 0.15,
         "mean_R": 3.0, "mean_F": 3.0, "mean_M": 3.0},
    ]


# ============================================================== make_transactions


def test_make_transactions_shape_and_realism():
    log = make_transactions(2000, seed=0)
    assert list(log.columns) == ["customer_id", "date", "amount", "quantity", "order_id"]
    assert log["date"].dtype.kind == "M" and log["quantity"].dtype == np.int64
    assert log["customer_id"].iloc[0].startswith("C") and len(log["customer_id"].iloc[0]) == 7
    assert log["date"].is_monotonic_increasing
    assert log["date"].min() >= pd.Timestamp("2023-01-01") and log["date"].max() <= pd.Timestamp("2024-06-30")
    assert np.allclose(log["amount"], log["amount"].round(2))
    assert 0.01 < (log["amount"] < 0).mean() < 0.03  # about 2 % returns
    assert log["customer_id"].nunique() == 2000
    result = validate_transactions(log, GEN_COLS, today=TODAY)
    assert result.problems == []  # returns never exceed purchases; no duplicates
    customers = aggregate(log, GEN_COLS, today=TODAY)
    assert 0.4 < (customers["frequency_orders"] == 1).mean() < 0.6  # about half buy once
    top = customers["frequency_orders"].sort_values(ascending=False)
    assert top.iloc[: len(top) // 10].sum() > 0.3 * top.sum()  # a loyal core buys often
    assert (log.groupby("order_id")["customer_id"].nunique() == 1).all()


def test_make_transactions_is_deterministic():
    pd.testing.assert_frame_equal(make_transactions(300, seed=7), make_transactions(300, seed=7))
    assert not make_transactions(300, seed=7).equals(make_transactions(300, seed=8))
    with pytest.raises(ValueError, match="n_customers must be at least 1"):
        make_transactions(0)


# ============================================================== recognising a log


def test_guess_transaction_columns(cdnow):
    assert guess_transaction_columns(cdnow) == CDNOW_COLS
    assert guess_transaction_columns(make_transactions(200)) == GEN_COLS
    # a customer table (one row per customer, no dates) is not a log
    from custseg.datasets import make_customers

    assert guess_transaction_columns(make_customers(200)) is None
    # a unit price is not an amount (Online Retail needs Quantity * UnitPrice first)
    retail = pd.DataFrame({"InvoiceNo": ["1", "1", "2"], "Quantity": [1, 2, 3],
                           "InvoiceDate": ["2010-12-01 08:26:00"] * 3, "UnitPrice": [2.5, 3.0, 1.0],
                           "CustomerID": [17850.0, 17850.0, 13047.0]})
    assert guess_transaction_columns(retail) is None
    assert guess_transaction_columns(retail.assign(Revenue=[2.5, 6.0, 3.0])) == TransactionColumns(
        customer="CustomerID", date="InvoiceDate", amount="Revenue", quantity="Quantity", order="InvoiceNo")


def test_shuffled_log_gives_the_same_customers():
    log = make_transactions(300, seed=4)
    shuffled = log.sample(frac=1.0, random_state=1).reset_index(drop=True)
    for convention in ("default", "lifetimes"):
        pd.testing.assert_frame_equal(aggregate(shuffled, GEN_COLS, convention=convention, today=TODAY),
                                      aggregate(log, GEN_COLS, convention=convention, today=TODAY))


def problems_log() -> pd.DataFrame:
    """returns_log plus a zero-value customer, a repeated row and a late row (Feb 5)."""
    extra = pd.DataFrame({"customer_id": ["z", "b", "c"], "date": ["2024-01-02", "2024-01-05", "2024-02-05"],
                          "amount": [0.0, 40.0, 3.0], "qty": [1, 4, 1], "order_id": ["o9", "o4", "o10"]})
    return pd.concat([returns_log(), extra], ignore_index=True)


@pytest.mark.parametrize("options", [
    {}, {"drop_duplicates": True}, {"returns": "drop"}, {"as_of": "2024-01-25"},
    {"convention": "lifetimes"}, {"as_of": "2024-01-25", "drop_duplicates": True, "returns": "drop"},
])
def test_validate_and_aggregate_equals_the_two_steps(options):
    # one connection, per-customer checks read from the aggregation's table: the same
    # warnings (negative net, zero-value only, duplicates, after as_of) and the same customers
    log = problems_log()
    separate = check_transactions(log, COLS, today=TODAY, **{k: v for k, v in options.items()
                                                             if k != "convention"})
    out, together = validate_and_aggregate(log, COLS, today=TODAY, **options)
    pd.testing.assert_frame_equal(out, aggregate(log, COLS, today=TODAY, check=False, **options))
    assert together == separate
    codes = {p.code for p in together.problems}
    assert {"duplicate-rows", "zero-value-only"} <= codes
    assert ("negative-net" in codes) == (options.get("returns", "net") == "net")
    assert together.n_customers == len(out)


def test_validate_and_aggregate_lists_every_error():
    log = problems_log()
    log.loc[2, "date"] = "2024-13-01"  # an error: not a date
    log.loc[5, "customer_id"] = " "  # another: an empty customer id
    with pytest.raises(ValidationError) as caught:
        validate_and_aggregate(log, COLS, today=TODAY)
    assert caught.value.problems == validate_transactions(log, COLS, today=TODAY).errors
    assert [p.code for p in caught.value.problems] == ["missing-customer", "bad-date"]


def test_public_names():
    import custseg.datasets
    import custseg.rfm

    assert {"TransactionColumns", "TxValidation", "validate_transactions", "check_transactions",
            "aggregate", "rfm_scores", "rfm_segments", "rfm_segment_summary", "DEFAULT_RFM_RULES",
            "guess_transaction_columns"} <= set(custseg.rfm.__all__)
    assert all(hasattr(custseg.rfm, name) for name in custseg.rfm.__all__)
    assert {"make_transactions", "PERIOD_START", "PERIOD_END"} <= set(custseg.datasets.__all__)
