"""Running a SELECT query on a DuckDB or SQLite file, read-only.

The engine is chosen by the file's first bytes (its magic number), through
the registry :data:`SQL_ENGINES`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError
from .text import DUCKDB_MAGIC, SQLITE_MAGIC, read_head_bytes

__all__ = ["read_database", "SqlEngine", "SQL_ENGINES"]


_QUERY_START = re.compile(r"\A(?:\s|--[^\n]*|/\*.*?\*/)*(\w+)", re.DOTALL)
_QUERY_WORDS = {"select", "with", "from", "values", "table"}


def read_database(path: Path, *, sql: str | None = None) -> pd.DataFrame:
    """Run a SELECT query on a DuckDB or SQLite file (sniffed from its first bytes).

    DuckDB files are opened read-only with file-system access disabled, so a
    query cannot read other files; SQLite files are opened read-only with
    python's ``sqlite3`` (duckdb's sqlite extension needs a download) and run
    SQLite's SQL dialect.
    """
    head = read_head_bytes(path, 16)
    engine = next((e for e in SQL_ENGINES if e.owns(head)), None)
    if engine is None:
        raise InputError(
            f"{path} is not a DuckDB or SQLite database",
            fix="check the file; for a text export use the .csv suffix",
        )
    if sql is None or not sql.strip():
        listed = ", ".join(engine.tables(path)) or "none"
        raise InputError(
            f"{path} is a {engine.name} database, so it needs a query (tables: {listed})",
            fix='pass --sql "SELECT * FROM <table>"',
        )
    match = _QUERY_START.match(sql)
    if match is None or match.group(1).lower() not in _QUERY_WORDS:
        raise InputError(
            f"--sql must be a SELECT query, got {sql.strip()[:60]!r}",
            fix='pass a query such as "SELECT * FROM customers"',
        )
    frame = engine.query(path, sql)
    if frame.empty:
        raise InputError(f"the query returned no rows from {path}", fix="check the table and WHERE clause")
    return frame


def _sql_problem(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # Keep duckdb's "Did you mean ...?" hint, drop the echoed query and caret.
    hints = [line for line in lines[1:2] if line.startswith("Did you mean")]
    return " ".join([lines[0], *hints])


def _duckdb_connect(path: Path) -> Any:
    import duckdb

    config = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "enable_external_access": False,
    }
    try:
        return duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.Error as exc:
        raise InputError(
            f"cannot open DuckDB database {path}: {_sql_problem(exc)}",
            fix="check that no other program holds it open for writing, and the duckdb version",
        ) from exc


def _duckdb_query(path: Path, sql: str) -> pd.DataFrame:
    import duckdb

    with _duckdb_connect(path) as con:
        try:
            return con.execute(sql).df()
        except duckdb.Error as exc:
            raise InputError(
                f"the query on {path} failed: {_sql_problem(exc)}",
                fix="correct the --sql query",
            ) from exc


def _duckdb_tables(path: Path) -> list[str]:
    with _duckdb_connect(path) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()
    return [row[0] for row in rows]


@contextlib.contextmanager
def _sqlite_connect(path: Path) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open SQLite database {path}: {exc}", fix="check the file") from exc
    try:
        con.execute("PRAGMA query_only = ON")
        yield con
    finally:
        con.close()


def _sqlite_query(path: Path, sql: str) -> pd.DataFrame:
    with _sqlite_connect(path) as con:
        try:
            cursor = con.execute(sql)
            rows = cursor.fetchall()
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise InputError(
                f"the query on {path} failed: {_sql_problem(exc)}",
                fix="correct the --sql query (SQLite dialect)",
            ) from exc
        names = [column[0] for column in cursor.description or []]
    return pd.DataFrame.from_records(rows, columns=names)


def _sqlite_tables(path: Path) -> list[str]:
    with _sqlite_connect(path) as con:
        try:
            rows = con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            ).fetchall()
        except sqlite3.Error as exc:
            raise InputError(
                f"{path} is not a readable SQLite database: {exc}", fix="check the file"
            ) from exc
    return [row[0] for row in rows]


@dataclass(frozen=True)
class SqlEngine:
    """A database engine: how to recognise its files, run a query, list the tables."""

    name: str
    owns: Callable[[bytes], bool]  # given the file's first 16 bytes
    query: Callable[[Path, str], pd.DataFrame]
    tables: Callable[[Path], list[str]]


#: The engines, tried in order on a database file's first bytes.
SQL_ENGINES: tuple[SqlEngine, ...] = (
    SqlEngine("SQLite", lambda head: head.startswith(SQLITE_MAGIC), _sqlite_query, _sqlite_tables),
    SqlEngine("DuckDB", lambda head: head[8:12] == DUCKDB_MAGIC, _duckdb_query, _duckdb_tables),
)
