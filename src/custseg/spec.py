"""The data dictionary (spec): the single source of truth about columns.

A spec says, for each column, its kind (numeric or categorical), its role
(``value`` such as CLV, ``engagement`` such as minutes watched, ``attribute`` such
as region), what an empty cell means, how codes map to labels, which named groups
of categories exist, and which columns the clustering uses (``cluster_on``) versus
which only describe the segments (``describe``). It is read from and written to
TOML; :func:`custseg.infer.infer_spec` drafts one from data.

This module is pure: it parses text and inspects DataFrames, it never opens files
(``custseg.io`` does that).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._messages import did_you_mean
from .errors import SpecError

__all__ = [
    "ColumnSpec",
    "ClusteringOptions",
    "Spec",
    "parse_spec",
    "code_str",
    "natural_key",
    "KINDS",
    "ROLES",
    "NUMERIC_MISSING",
    "CATEGORICAL_MISSING",
    "TRANSFORMS",
    "BETTER",
    "HEAVY_TAIL_SKEW",
]

KINDS = ("numeric", "categorical", "date", "boolean", "text")
ROLES = ("value", "engagement", "attribute")
NUMERIC_MISSING = ("zero", "median", "mean", "never", "drop", "error")
CATEGORICAL_MISSING = ("unknown", "mode", "drop", "error")
TRANSFORMS = ("auto", "log", "none")
#: which end of a numeric column is the good one: "lower" for days since the last
#: login, returns, complaints; names, traits and recommendations read it that way
BETTER = ("higher", "lower")
ALGORITHMS_HINT = ("kmeans",)
UNKNOWN_LEVEL = "unknown"

_TOP_KEYS = (
    "kind", "id", "cluster_on", "describe", "ignore", "columns", "groups", "names", "clustering",
    "recommendations", "transactions", "rfm", "as_of",
)
_TX_KEYS = ("customer", "date", "amount", "quantity", "order", "currency", "as_of", "returns",
            "drop_duplicates")
_RFM_KEYS = ("bins", "cuts", "segments")
RFM_SEGMENT_COLUMN = "rfm_segment"
_COLUMN_KEYS = ("kind", "role", "missing", "transform", "better", "format", "na_values",
                "labels", "words", "description", "pii")
#: what a kind = "text" column may say: it is read, never segmented on
_TEXT_KEYS = ("kind", "pii", "description")
_CLUSTERING_KEYS = ("algorithm", "k", "k_range", "n_init", "seed")


def code_str(value: Any) -> str:
    """Canonical text of a category code: ``1``, ``1.0`` and ``"1"`` are all ``"1"``."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return repr(float(value))
    return str(value).strip()


def natural_key(code: str) -> tuple[int, float, str]:
    """Sort key of a category level: finite numbers by value first, then the rest as text.

    ``"2"`` sorts before ``"10"``; text that reads as a non-finite number
    (``"inf"``, ``"nan"``, ``"Infinity"``) is text, so every level has a definite
    place and the order never depends on anything but the levels.
    """
    try:
        number = float(code)
    except ValueError:
        return (1, 0.0, code)
    return (0, number, code) if math.isfinite(number) else (1, 0.0, code)


@dataclass
class ColumnSpec:
    """What one column is and how to treat it."""

    name: str
    kind: str
    role: str = "attribute"
    missing: str | None = None
    transform: str = "auto"
    labels: dict[str, str] = field(default_factory=dict)
    words: tuple[str, str] | None = None
    description: str = ""
    better: str = "higher"
    #: how the numbers are written, by example (``"$1,234.56"``; see custseg.numbers)
    format: str = ""
    #: cell texts read as missing (``"N/A"``, ``"#DIV/0!"``)
    na_values: tuple[str, ...] = ()
    #: a text column of personal data (e-mail, phone, name, address): its values never
    #: reach a run's outputs, and an export includes it only when named
    pii: bool = False

    def __post_init__(self) -> None:
        if self.missing is None:
            self.missing = "median" if self.kind in ("numeric", "date") else UNKNOWN_LEVEL

    @property
    def is_numeric(self) -> bool:
        return self.kind == "numeric"

    @property
    def number_format(self):
        """The :class:`custseg.numbers.NumberFormat` of ``format`` and ``na_values``, or None
        when the column is written as plain numbers."""
        from .numbers import PLAIN, parse_format

        if self.kind != "numeric" or not (self.format or self.na_values):
            return None
        fmt = parse_format(self.format or PLAIN.example, self.na_values)
        assert fmt is not None  # (checked when the spec is read)
        return fmt

    def label(self, code: Any) -> str:
        """The label of a code (the code itself when the spec gives none)."""
        c = code_str(code)
        return self.labels.get(c, c)

    def code_of(self, label_or_code: str) -> str | None:
        """The code for a label or a code, ``None`` when unknown."""
        text = code_str(label_or_code)
        if text in self.labels:
            return text
        for code, label in self.labels.items():
            if label == text:
                return code
        return None

    def to_dict(self) -> dict:
        if self.kind == "text":
            d = {"kind": "text", **({"pii": True} if self.pii else {})}
            return {**d, **({"description": self.description} if self.description else {})}
        d: dict[str, Any] = {"kind": self.kind, "role": self.role, "missing": self.missing}
        if self.kind == "date":
            d["format"] = self.format
        if self.kind in ("numeric", "date"):
            d["transform"] = self.transform
            if self.better != "higher":  # (the default is left out: specs read as before)
                d["better"] = self.better
            if self.format and self.kind == "numeric":
                d["format"] = self.format
            if self.na_values:
                d["na_values"] = list(self.na_values)
        if self.labels:
            d["labels"] = dict(self.labels)
        if self.words:
            d["words"] = list(self.words)
        if self.description:
            d["description"] = self.description
        return d


@dataclass
class ClusteringOptions:
    """Clustering settings a spec may carry; CLI flags override them."""

    algorithm: str = "kmeans"
    k: int | None = None
    k_range: tuple[int, int] = (2, 10)
    n_init: int = 10
    seed: int = 0

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "algorithm": self.algorithm,
            "k_range": list(self.k_range),
            "n_init": self.n_init,
            "seed": self.seed,
        }
        if self.k is not None:
            d["k"] = self.k
        return d


@dataclass
class Spec:
    """A data dictionary.

    Attributes
    ----------
    columns : dict of str to ColumnSpec
        In file order.
    id : str or None
        The customer id column, if any.
    cluster_on, describe : list of str
        Columns the clustering uses; columns that only describe segments.
    ignore : list of str
        Columns present in the data but not used at all.
    groups : dict
        ``{column: {group name: [labels or codes]}}``, e.g. social channels.
    names : dict of int to str
        Segment name overrides by segment id.
    """

    columns: dict[str, ColumnSpec]
    id: str | None = None
    kind: str = "customers"
    cluster_on: list[str] = field(default_factory=list)
    describe: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    clustering: ClusteringOptions = field(default_factory=ClusteringOptions)
    recommendations: dict = field(default_factory=dict)
    transactions: dict = field(default_factory=dict)
    rfm: dict = field(default_factory=dict)
    #: the observation date date columns count days to (YYYY-MM-DD); None: the newest date
    as_of: str | None = None
    #: kind = "text" columns (free text, personal data): read, never segmented on; kept
    #: apart from ``columns``, which holds the columns that describe customers
    text: dict[str, ColumnSpec] = field(default_factory=dict)

    @property
    def personal(self) -> list[str]:
        """The columns of personal data (``pii = true``)."""
        return [n for n, c in self.text.items() if c.pii]

    # ----------------------------------------------------------------- queries
    def numeric(self, within: list[str] | None = None) -> list[str]:
        names = within if within is not None else list(self.columns)
        return [c for c in names if self.columns[c].kind == "numeric"]

    def categorical(self, within: list[str] | None = None) -> list[str]:
        names = within if within is not None else list(self.columns)
        return [c for c in names if self.columns[c].kind == "categorical"]

    def with_role(self, *roles: str) -> list[str]:
        return [c for c, col in self.columns.items() if col.role in roles]

    @property
    def used(self) -> list[str]:
        """cluster_on then describe, without repeats."""
        out = list(self.cluster_on)
        out += [c for c in self.describe if c not in out]
        return out

    def group_codes(self, column: str) -> dict[str, list[str]]:
        """Groups of ``column`` with members resolved to codes."""
        col = self.columns[column]
        out = {}
        for gname, members in self.groups.get(column, {}).items():
            codes = []
            for m in members:
                c = col.code_of(m)
                codes.append(c if c is not None else code_str(m))
            out[gname] = codes
        return out

    def with_cluster_on(self, cluster_on: list[str]) -> Spec:
        """A copy clustering on other columns (the rest go to ``describe``)."""
        for c in cluster_on:
            if c not in self.columns:
                raise SpecError(
                    f"--cluster-on names column {c!r}, which the spec does not have",
                    fix=f"use one of {', '.join(self.columns)}" + did_you_mean(c, self.columns),
                )
        describe = [c for c in self.used if c not in cluster_on]
        return Spec(
            columns=self.columns, id=self.id, kind=self.kind, cluster_on=list(cluster_on),
            describe=describe, ignore=list(self.ignore), groups=self.groups, names=dict(self.names),
            clustering=self.clustering, recommendations=self.recommendations,
            transactions=self.transactions, rfm=self.rfm, as_of=self.as_of, text=self.text,
        )

    # ----------------------------------------------------------- serialising
    def to_dict(self) -> dict:
        d: dict[str, Any] = {"kind": self.kind}
        if self.id is not None:
            d["id"] = self.id
        d["cluster_on"] = list(self.cluster_on)
        d["describe"] = list(self.describe)
        if self.ignore:
            d["ignore"] = list(self.ignore)
        d["columns"] = {n: c.to_dict() for n, c in {**self.columns, **self.text}.items()}
        if self.groups:
            d["groups"] = {c: {g: list(m) for g, m in gs.items()} for c, gs in self.groups.items()}
        if self.names:
            d["names"] = {str(k): v for k, v in sorted(self.names.items())}
        d["clustering"] = self.clustering.to_dict()
        if self.recommendations:
            d["recommendations"] = self.recommendations
        if self.transactions:
            d["transactions"] = dict(self.transactions)
        if self.rfm:
            d["rfm"] = dict(self.rfm)
        if self.as_of is not None:
            d["as_of"] = self.as_of
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "spec") -> Spec:
        return _from_dict(d, source)

    def to_toml(self, comments: dict[str, str] | None = None, header: str = "") -> str:
        """TOML text; ``comments`` maps ``"<top key>"`` or ``"columns.<name>"`` to a comment."""
        return _to_toml(self, comments or {}, header)


# ---------------------------------------------------------------- parsing
def _check_keys(d: dict, allowed: tuple[str, ...], where: str, source: str) -> None:
    for key in d:
        if key not in allowed:
            raise SpecError(
                f"{source}: unknown key {key!r} in {where}{did_you_mean(key, allowed)}",
                fix=f"allowed keys there are {', '.join(allowed)}",
            )


def _one_of(value: Any, allowed: tuple[str, ...], key: str, source: str) -> str:
    if value not in allowed:
        raise SpecError(
            f"{source}: {key} must be one of {', '.join(allowed)}, got {value!r}"
            + did_you_mean(value, allowed),
            fix=f"use one of {', '.join(allowed)}",
        )
    return value


def _str_list(value: Any, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{source}: {key} must be a list of column names, got {value!r}",
                        fix=f'write {key} = ["col1", "col2"]')
    return list(value)


def _int(value: Any, key: str, source: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{source}: {key} must be an integer >= {minimum}, got {value!r}",
                        fix=f"give a whole number of at least {minimum}")
    return value


def _text_column(name: str, cd: dict, kind: str, where: str, source: str) -> ColumnSpec:
    """A kind = "text" column: only pii and description may be said of it."""
    if kind != "text":
        raise SpecError(f"{source}: {where} has pii but kind is {kind}",
                        fix='set kind = "text": personal data is read, never segmented on')
    extra = [k for k in cd if k not in _TEXT_KEYS]
    if extra:
        raise SpecError(f"{source}: {where} is a text column and cannot have {extra[0]}",
                        fix=f"remove {', '.join(extra)}: a text column takes only pii and "
                            "description")
    pii = cd.get("pii", False)
    if not isinstance(pii, bool):
        raise SpecError(f"{source}: {where} pii must be true or false, got {pii!r}",
                        fix="write pii = true")
    return ColumnSpec(name=name, kind="text", pii=pii, description=str(cd.get("description", "")))


def _number_format(cd: dict, kind: str, where: str, source: str) -> tuple[str, tuple[str, ...]]:
    """A numeric column's ``format`` and ``na_values``, checked."""
    from .numbers import parse_format

    fmt, na_values = cd.get("format", ""), cd.get("na_values", [])
    if kind == "date":
        from .dates import DATE_FORMATS

        if fmt not in DATE_FORMATS or "na_values" in cd:
            raise SpecError(f"{source}: {where} is a date column with format = {fmt!r}",
                            fix=f"write format = one of {', '.join(DATE_FORMATS)}"
                                + (" and remove na_values" if "na_values" in cd else ""))
        return fmt, ()
    if ("format" in cd or "na_values" in cd) and kind != "numeric":
        raise SpecError(f"{source}: {where} has format or na_values but kind is {kind}",
                        fix="remove them: they say how the numbers of a numeric column are written")
    if not isinstance(fmt, str) or (fmt and parse_format(fmt) is None):
        raise SpecError(f"{source}: {where} format = {fmt!r} is not a way of writing 1234.56",
                        fix='write the number 1234.56 as the file does, e.g. format = "1,234.56", '
                            '"1.234,56", "$1,234.56", "1 234,56 €" or "1234.56%"')
    if not isinstance(na_values, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in na_values):
        raise SpecError(f"{source}: {where} na_values must be a list of texts",
                        fix='write na_values = ["N/A", "NULL"]')
    return fmt, tuple(v.strip() for v in na_values)


def parse_spec(text: str, source: str = "spec.toml") -> Spec:
    """Parse spec TOML text into a validated :class:`Spec`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source} is not valid TOML: {exc}", fix="correct the TOML syntax") from None
    return _from_dict(data, source)


def _transactions_part(data: dict, source: str) -> tuple[dict, dict, dict]:
    """The [transactions] and [rfm] tables, and the default customer-table spec they imply."""
    tx = data.get("transactions")
    if not isinstance(tx, dict):
        raise SpecError(f"{source}: kind = \"transactions\" needs a [transactions] table",
                        fix="name the log's columns: customer = \"...\", date = \"...\", "
                            "amount = \"...\"")
    _check_keys(tx, _TX_KEYS, "[transactions]", source)
    for key in ("customer", "date", "amount"):
        if not isinstance(tx.get(key), str) or not tx[key]:
            raise SpecError(f"{source}: [transactions] needs {key} = \"<column name>\"",
                            fix="name the customer, date and amount columns of the log")
    if "returns" in tx:
        _one_of(tx["returns"], ("net", "drop", "error"), "[transactions] returns", source)
    rfm = data.get("rfm") or {}
    if not isinstance(rfm, dict):
        raise SpecError(f"{source}: [rfm] must be a table", fix="e.g. [rfm] bins = 5")
    _check_keys(rfm, _RFM_KEYS, "[rfm]", source)
    columns = {
        "recency_days": {"kind": "numeric", "role": "attribute", "missing": "error",
                         "transform": "auto", "better": "lower",
                         "words": ["recent buyers", "lapsed buyers"],
                         "description": "days since the last purchase at the observation end"},
        "frequency_orders": {"kind": "numeric", "role": "engagement", "missing": "error",
                             "transform": "auto", "words": ["one-off buyers", "frequent buyers"],
                             "description": "number of orders"},
        "monetary_total": {"kind": "numeric", "role": "value", "missing": "error",
                           "transform": "auto", "words": ["low spenders", "big spenders"],
                           "description": "total spend, net of returns"},
        "tenure_days": {"kind": "numeric", "role": "attribute", "missing": "error",
                        "transform": "none", "description": "days since the first purchase"},
        RFM_SEGMENT_COLUMN: {"kind": "categorical", "role": "attribute", "missing": "unknown",
                             "description": "named RFM segment from the R, F, M scores"},
    }
    return tx, rfm, columns


def _from_dict(data: dict, source: str) -> Spec:
    _check_keys(data, _TOP_KEYS, "the top level", source)
    kind = _one_of(data.get("kind", "customers"), ("customers", "transactions"), "kind", source)
    tx, rfm = {}, {}
    if kind == "transactions":
        tx, rfm, derived = _transactions_part(data, source)
        data = dict(data)
        data.setdefault("columns", derived)
        data.setdefault("id", tx["customer"])
        data.setdefault("cluster_on", ["recency_days", "frequency_orders", "monetary_total"])
        data.setdefault("describe", [c for c in data["columns"] if c not in data["cluster_on"]])
    elif "transactions" in data or "rfm" in data:
        raise SpecError(f"{source}: [transactions] and [rfm] need kind = \"transactions\"",
                        fix="add kind = \"transactions\" at the top")
    raw_cols = data.get("columns")
    if isinstance(raw_cols, dict) and raw_cols and all(
            isinstance(cd, dict) and cd.get("kind") == "text" for cd in raw_cols.values()):
        raise SpecError(f"{source}: every column is kind = \"text\"",
                        fix="describe at least one numeric, categorical or date column")
    if not isinstance(raw_cols, dict) or not raw_cols:
        raise SpecError(f"{source}: no [columns.NAME] tables", fix="describe each column to use")
    columns: dict[str, ColumnSpec] = {}
    text: dict[str, ColumnSpec] = {}
    for name, cd in raw_cols.items():
        where = f"[columns.{name}]"
        if not isinstance(cd, dict):
            raise SpecError(f"{source}: {where} must be a table",
                            fix=f'write {where} on its own line, then kind = "numeric" or '
                                '"categorical" below it')
        _check_keys(cd, _COLUMN_KEYS, where, source)
        ckind = _one_of(cd.get("kind"), KINDS, f"{where} kind", source)
        if ckind == "text" or "pii" in cd:
            text[name] = _text_column(name, cd, ckind, where, source)
            continue
        role = _one_of(cd.get("role", "attribute"), ROLES, f"{where} role", source)
        measured = ckind in ("numeric", "date")  # a date is segmented as its days: a number
        allowed_missing = NUMERIC_MISSING if measured else CATEGORICAL_MISSING
        default_missing = "median" if measured else UNKNOWN_LEVEL
        missing = _one_of(cd.get("missing", default_missing), allowed_missing,
                          f"{where} missing", source)
        transform = _one_of(cd.get("transform", "auto"), TRANSFORMS, f"{where} transform", source)
        labels_raw = cd.get("labels", {})
        if not isinstance(labels_raw, dict):
            raise SpecError(f"{source}: {where} labels must be a table of code = \"label\"",
                            fix='write labels = { 1 = "first label", 2 = "second label" }')
        if labels_raw and ckind != "categorical":
            raise SpecError(f"{source}: {where} has labels but kind is numeric",
                            fix='set kind = "categorical" or remove the labels')
        labels = {code_str(k): str(v) for k, v in labels_raw.items()}
        if len(set(labels.values())) != len(labels):
            raise SpecError(f"{source}: {where} labels repeat a label",
                            fix="give each code its own label")
        better = _one_of(cd.get("better", "higher"), BETTER, f"{where} better", source)
        if "better" in cd and not measured:
            raise SpecError(f"{source}: {where} has better = {better!r} but kind is {ckind}",
                            fix="remove better: it orders the values of numeric columns")
        if better == "lower" and role == "value":
            raise SpecError(f"{source}: {where} is a value column with better = \"lower\"; value "
                            "columns are summed into each segment's share of the value",
                            fix='use role = "attribute" (or "engagement") for a column where '
                                'less is better')
        number_format, na_values = _number_format(cd, ckind, where, source)
        words = cd.get("words")
        if words is not None:
            if (not isinstance(words, list) or len(words) != 2
                    or not all(isinstance(w, str) for w in words)):
                raise SpecError(f"{source}: {where} words must be two strings: [low, high]",
                                fix='write words = ["low ...", "high ..."]')
            words = (words[0], words[1])
        columns[name] = ColumnSpec(
            name=name, kind=ckind, role=role, missing=missing, transform=transform,
            labels=labels, words=words, description=str(cd.get("description", "")),
            better=better, format=number_format, na_values=na_values,
        )

    id_col = data.get("id")
    if id_col is not None:
        if not isinstance(id_col, str):
            raise SpecError(f"{source}: id must be a column name, got {id_col!r}",
                            fix='write id = "the id column\'s name" (in quotes)')
        if id_col in columns:
            raise SpecError(f"{source}: id column {id_col!r} must not also be under [columns]",
                            fix=f"remove [columns.{id_col}]")

    def _known(names: list[str], key: str) -> list[str]:
        for n in names:
            if n in text:
                raise SpecError(f"{source}: {key} names {n!r}, a kind = \"text\" column: text is "
                                "read but never segmented on",
                                fix=f"remove {n!r} from {key}, or give it another kind")
            if n not in columns:
                raise SpecError(
                    f"{source}: {key} names {n!r}, which has no [columns.{n}] table"
                    + did_you_mean(n, columns),
                    fix="add the column table or correct the name",
                )
        return names

    cluster_on = _known(_str_list(data.get("cluster_on", list(columns)), "cluster_on", source),
                        "cluster_on")
    if not cluster_on:
        raise SpecError(f"{source}: cluster_on is empty", fix="name at least one column")
    describe_default = [c for c in columns if c not in cluster_on]
    if id_col is not None and id_col in text:
        raise SpecError(f"{source}: id column {id_col!r} must not also be under [columns]",
                        fix=f"remove [columns.{id_col}]")
    describe = _known(_str_list(data.get("describe", describe_default), "describe", source),
                      "describe")
    ignore = _str_list(data.get("ignore", []), "ignore", source)

    def _table(key: str, example: str) -> dict:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise SpecError(f"{source}: [{key}] must be a table, got {value!r}",
                            fix=f"write [{key}] on its own line, then {example} below it")
        return value

    groups: dict[str, dict[str, list[str]]] = {}
    for col, gs in _table("groups", "column = { group = [labels] }").items():
        if col not in columns:
            raise SpecError(f"{source}: [groups.{col}] names an unknown column"
                            + did_you_mean(col, columns), fix=f"use one of {', '.join(columns)}")
        if columns[col].kind != "categorical":
            raise SpecError(f"{source}: [groups.{col}] needs a categorical column",
                            fix=f"remove [groups.{col}] or set kind = \"categorical\"")
        if not isinstance(gs, dict):
            raise SpecError(f"{source}: [groups.{col}] must map group names to lists of labels",
                            fix=f'write [groups.{col}] then name = ["label", ...]')
        groups[col] = {}
        for gname, members in gs.items():
            if not isinstance(members, list) or not members:
                raise SpecError(f"{source}: group {gname!r} of {col!r} must be a non-empty list",
                                fix=f'write {gname} = ["label", ...]')
            if columns[col].labels:
                for m in members:
                    if columns[col].code_of(m) is None:
                        raise SpecError(
                            f"{source}: group {gname!r} of {col!r} lists {m!r}, which is neither "
                            f"a code nor a label" + did_you_mean(m, columns[col].labels.values()),
                            fix=f"use one of {', '.join(columns[col].labels.values())}",
                        )
            groups[col][gname] = [code_str(m) for m in members]

    names: dict[int, str] = {}
    for k, v in _table("names", '0 = "segment name"').items():
        try:
            seg = int(k)
        except ValueError:
            raise SpecError(f"{source}: [names] keys must be segment ids, got {k!r}",
                            fix='write segment number = "name", e.g. 0 = "Loyal"') from None
        names[seg] = str(v)

    cd = _table("clustering", "k_range = [2, 10]")
    _check_keys(cd, _CLUSTERING_KEYS, "[clustering]", source)
    k_range = cd.get("k_range", [2, 10])
    if (not isinstance(k_range, list) or len(k_range) != 2
            or not all(isinstance(x, int) for x in k_range) or not 2 <= k_range[0] <= k_range[1]):
        raise SpecError(f"{source}: [clustering] k_range must be [low, high] with "
                        f"2 <= low <= high, got {k_range!r}", fix="write e.g. k_range = [2, 10]")
    k = cd.get("k")
    clustering = ClusteringOptions(
        algorithm=str(cd.get("algorithm", "kmeans")),
        k=None if k is None else _int(k, "[clustering] k", source, 1),
        k_range=(k_range[0], k_range[1]),
        n_init=_int(cd.get("n_init", 10), "[clustering] n_init", source, 1),
        seed=_int(cd.get("seed", 0), "[clustering] seed", source, 0),
    )
    recs = _table("recommendations", "rule settings")
    as_of = data.get("as_of")
    if as_of is not None:
        from .dates import parse_as_of

        as_of = str(parse_as_of(str(as_of), f"{source}: as_of").date())
    return Spec(columns=columns, id=id_col, kind=kind, cluster_on=cluster_on, describe=describe,
                ignore=ignore, groups=groups, names=names, clustering=clustering,
                recommendations=recs, transactions=dict(tx), rfm=dict(rfm), as_of=as_of,
                text=text)


# ---------------------------------------------------------------- writing
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k: str) -> str:
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def _val(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(str(k))} = {_val(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _comment(text: str | None) -> str:
    if not text:
        return ""
    return "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines())


def _to_toml(spec: Spec, comments: dict[str, str], header: str) -> str:
    d = spec.to_dict()
    out = [_comment(header)]
    out.append(f"kind = {_val(d['kind'])}\n")
    for key in ("id", "as_of", "cluster_on", "describe", "ignore"):
        if key in d:
            out.append(_comment(comments.get(key)) + f"{key} = {_val(d[key])}\n")
    for table in ("transactions", "rfm"):
        if table not in d:
            continue
        out.append("\n" + _comment(comments.get(table)) + f"[{table}]\n")
        for k, v in d[table].items():
            if not (table == "rfm" and k == "segments"):
                out.append(f"{k} = {_val(v)}\n")
        for rule in d[table].get("segments", []) if table == "rfm" else []:
            out.append("\n[[rfm.segments]]\n")
            for k, v in rule.items():
                out.append(f"{_key(k)} = {_val(v)}\n")
    for name, cd in d["columns"].items():
        out.append("\n" + _comment(comments.get(f"columns.{name}")) + f"[columns.{_key(name)}]\n")
        for k, v in cd.items():
            out.append(f"{k} = {_val(v)}\n")
    for col, gs in d.get("groups", {}).items():
        out.append("\n" + _comment(comments.get(f"groups.{col}")) + f"[groups.{_key(col)}]\n")
        for g, members in gs.items():
            out.append(f"{_key(g)} = {_val(members)}\n")
    if "names" in d:
        out.append("\n" + _comment(comments.get("names")) + "[names]\n")
        for k, v in d["names"].items():
            out.append(f"{_key(k)} = {_val(v)}\n")
    out.append("\n" + _comment(comments.get("clustering")) + "[clustering]\n")
    for k, v in d["clustering"].items():
        out.append(f"{k} = {_val(v)}\n")
    if "recommendations" in d:
        out.append("\n[recommendations]\n")
        for k, v in d["recommendations"].items():
            out.append(f"{_key(k)} = {_val(v)}\n")
    return "".join(out)


# ---------------------------------------------------------------- shape
#: names of columns that say how long ago a customer was active: better low (spec
#: inference), "inactive" at the high end (segment names), "never active" when empty
RECENCY_NAMES = re.compile(r"since|recency|last|ago|inactiv|dormant", re.I)

#: skewness above which a column counts as heavy-tailed, the one home of this threshold:
#: spec inference and FeatureSpace's "auto" log transform compare it with the biased
#: skewness (:func:`skewness`), explore's column summaries with the adjusted G1
HEAVY_TAIL_SKEW = 2.0


def skewness(values: np.ndarray) -> float:
    """Sample skewness (Fisher-Pearson, biased) of the finite values; 0 for constants."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return 0.0
    sd = v.std()
    if sd == 0:
        return 0.0
    return float(np.mean(((v - v.mean()) / sd) ** 3))
