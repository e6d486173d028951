"""The corpus of awkward inputs (tests/badinputs/cases.py), driven through the real edges.

Command-line cases run in-process with typer's CliRunner, in a fresh working
directory, so that a case can monkeypatch the library (a full disk) and the
messages hold relative paths. Every *must fail* case checks that:

* the exit code is 2 (the API: the 4xx status, in the one error shape);
* stderr is exactly the expected ``error: ...`` line, and stdout is empty;
* "Traceback" appears nowhere;
* nothing was created or removed in the working directory (no output, no
  hidden temporary file or directory) and nothing is left in the temporary
  directory (DuckDB scratch files and the like).

Every *must succeed* case runs its own check of the result (usually: the same
answer as for the clean UTF-8 CSV).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.register_assert_rewrite("badinputs.cases")  # the checks there get pytest's messages

import custseg  # noqa: E402
from badinputs.cases import CASES, SPEC, Call, Case, Post, Shared, csv_text, customers  # noqa: E402
from custseg.cli import app  # noqa: E402

runner = CliRunner()


def _param(c: Case):
    marks = []
    if c.skip_as_root:
        marks.append(pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                                        reason="root reads files whatever their mode"))
    if c.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=c.xfail))
    return pytest.param(c, id=f"{c.command}-{c.id}", marks=marks)


MUST_FAIL = [_param(c) for c in CASES if c.must_fail]
MUST_SUCCEED = [_param(c) for c in CASES if not c.must_fail]


@pytest.fixture(autouse=True)
def no_figures(monkeypatch, request):
    """PNG figures take seconds and are not what these cases test; the HTML report is kept."""
    case = request.node.callspec.params.get("case") if hasattr(request.node, "callspec") else None
    if case is not None and case.id == "html-names-and-values":
        return  # the real figures too: labels with $ and < must not break matplotlib
    from custseg.report import figures

    monkeypatch.setattr(figures, "write_figures", _no_figures)


def _no_figures(analysis, directory, *, n_jobs=None, meanwhile=None, drawn=None) -> list[str]:
    """write_figures without figures (the HTML and Markdown reports are still rendered)."""
    if meanwhile is not None:
        meanwhile()
    for later in (drawn or {}).values():
        later.cancel()
    return []


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Shared:
    """A model fitted on the clean table, and a run on its clean UTF-8 CSV."""
    base = tmp_path_factory.mktemp("shared")
    (base / "spec.toml").write_text(SPEC, encoding="utf-8")
    (base / "data.csv").write_text(csv_text(customers()), encoding="utf-8")
    from custseg.report import figures

    real = figures.write_figures
    figures.write_figures = _no_figures
    try:
        res = runner.invoke(app, ["run", str(base / "data.csv"), "--spec", str(base / "spec.toml"),
                                  "--out", str(base / "run"), "--quiet"])
    finally:
        figures.write_figures = real
    assert res.exit_code == 0, res.output
    return Shared(model_json=base / "run" / "model.json", run_dir=base / "run")


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty working directory, with its own (checked) temporary directory."""
    work = tmp_path / "work"
    work.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    return work


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for directories and symlinks)."""
    out: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink() or path.is_dir():
                out[rel] = None
            else:
                try:
                    out[rel] = path.read_bytes()
                except PermissionError:
                    out[rel] = None
    return out


def invoke(call: Call, monkeypatch):
    if call.patch is not None:
        call.patch(monkeypatch)
    return runner.invoke(app, call.args)


@pytest.fixture(scope="module")
def api_client(shared):
    pytest.importorskip("fastapi")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient
    from custseg.api import create_app

    return TestClient(create_app(custseg.load_model(shared.model_json)))


def post(client, request: Post):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        return client.post("/v1/assign", content=request.body,
                           headers={"content-type": request.content_type})


def expected_line(case: Case, workdir: Path) -> str:
    """The case's message with the working directory and today's date filled in."""
    return case.error.replace("{cwd}", str(workdir)).replace("{today}", date.today().isoformat())


@pytest.mark.parametrize("case", MUST_FAIL)
def test_must_fail(case: Case, shared, workdir, monkeypatch, request):
    call = case.build(workdir, shared)
    if case.command == "api":
        assert isinstance(call, Post)
        response = post(request.getfixturevalue("api_client"), call)
        assert response.status_code == case.status, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert set(error) == {"status", "code", "message", "problems"}
        assert (error["status"], error["code"]) == (case.status, case.code)
        assert error["message"] == expected_line(case, workdir)
        assert "Traceback" not in response.text
        return
    before = _tree(workdir)
    result = invoke(call, monkeypatch)
    assert "Traceback" not in result.output
    assert result.stderr.rstrip("\n") == expected_line(case, workdir), result.stderr
    assert result.exit_code == case.status, result.output
    assert result.stdout == ""
    assert _tree(workdir) == before, "the failed command left something behind (or removed it)"
    assert os.listdir(tempfile.tempdir) == []


@pytest.mark.parametrize("case", MUST_SUCCEED)
def test_must_succeed(case: Case, shared, workdir, monkeypatch, request):
    call = case.build(workdir, shared)
    if case.command == "api":
        response = post(request.getfixturevalue("api_client"), call)
        assert response.status_code == 200, response.text
        case.check(workdir, shared, response)
        return
    result = invoke(call, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    case.check(workdir, shared, result)
    assert os.listdir(tempfile.tempdir) == []
    assert not [p for p in os.listdir(workdir) if p.startswith(".")]


def test_the_corpus_is_large_enough():
    by_command: dict[str, int] = {}
    for c in CASES:
        by_command[c.command] = by_command.get(c.command, 0) + 1
    assert sum(by_command.values()) >= 40
    assert set(by_command) == {"run", "assign", "rfm", "compare", "api"}
    ids = [(c.command, c.id) for c in CASES]
    assert len(ids) == len(set(ids))
