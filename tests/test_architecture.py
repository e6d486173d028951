"""The shape of the house: imports point inward, no cycles, small modules, no machinery.

The core (the data dictionary, validation, features, clustering, profiles, the
statistics and the pipeline that ties them) takes DataFrames and arrays and
returns data; reading and writing files, the report, the command line, the API
and the engines are edges that use it. These tests read every module's source
(imports inside functions count too) so that the shape stays.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "custseg"

#: modules (or packages: every module below them) of the core
CORE = ("errors", "spec", "infer", "numbers", "rows", "dates", "booleans", "derive", "validate",
        "features", "cluster", "profile", "quality", "recommend",
        "segmenter", "model", "explore", "questions", "analysis", "pipeline", "compare", "datasets",
        "schemas", "_parallel", "_lazy", "_workers", "_threads", "_timing", "_messages", "rfm.columns",
        "rfm.views", "rfm.checks", "rfm.sql", "rfm.scores", "clv", "campaign.stats",
        "campaign.columns", "campaign.analyze", "campaign.summary", "campaign.plan")
#: modules (or packages) of the edges: the core imports none of them. A module belongs to the
#: longest entry of either list that names it or a package above it: the package ``rfm``
#: (whose ``__init__`` re-exports the functions that read files) is an edge, its core
#: modules are listed in CORE.
EDGES = ("io", "rundir", "modelfile", "scoring", "report", "cli", "api", "engines", "_entry",
         "__main__", "workflow", "rfm", "rfm.read", "rfm.log", "clv.flow", "campaign",
         "campaign.files")
MAX_LINES = 800


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _place(module: str) -> str | None:
    """``"core"``, ``"edge"`` or None (unplaced): the list whose longest matching entry names
    the module or a package above it."""
    short = module.removeprefix("custseg.")
    found = [(len(g), side) for side, groups in (("core", CORE), ("edge", EDGES)) for g in groups
             if short == g or short.startswith(g + ".")]
    return max(found)[1] if found else None


def _resolve(module: str, name: str) -> str:
    """``package.name`` if that is a module, else ``package`` (a name defined in it)."""
    candidate = f"{module}.{name}"
    return candidate if candidate in MODULES else module


def imports_of(module: str) -> set[str]:
    """The custseg modules ``module`` imports anywhere in its source (functions included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "custseg" or target.startswith("custseg."):
                found.update(_resolve(target, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("custseg"))
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            raise AssertionError(f"{module} imports {node.args[0].value!r} by name: write the "
                                 "import out so that this test sees it")
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_is_placed():
    # a new module must be put in the core or among the edges (or be the package root)
    unplaced = [m for m in MODULES if m != "custseg" and _place(m) is None]
    assert unplaced == []


def test_no_entry_is_both_core_and_edge():
    assert sorted(set(CORE) & set(EDGES)) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _place(m) == "core"))
def test_the_core_imports_no_edge(module):
    # transitively: a core module that imports another that imports an edge counts
    seen, todo, path = set(), [module], {module: [module]}
    while todo:
        current = todo.pop()
        for dep in sorted(GRAPH[current]):
            if dep not in seen:
                seen.add(dep)
                path[dep] = path[current] + [dep]
                todo.append(dep)
    edges = sorted(d for d in seen if _place(d) == "edge")
    assert edges == [], " -> ".join(path[edges[0]]) if edges else ""


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m: str) -> None:  # Tarjan's strongly connected components
        index[m] = low[m] = len(index)
        stack.append(m)
        for d in GRAPH[m]:
            if d not in index:
                visit(d)
                low[m] = min(low[m], low[d])
            elif d in stack:
                low[m] = min(low[m], index[d])
        if low[m] == index[m]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == m:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in MODULES:
        if m not in index:
            visit(m)
    # a package importing its own modules to re-export them is not a cycle of design
    real = [c for c in cycles if not all(x.startswith(min(c, key=len) + ".") or x == min(c, key=len)
                                         for x in c)]
    assert real == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by job"


MACHINERY = ("os.fork", "gc.disable", "gc.freeze", "/proc/stat", "getloadavg", "subprocess",
             "multiprocessing", "threading.Thread", "ThreadPoolExecutor", "sched_getaffinity")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in (
    "custseg._entry", "custseg._workers", "custseg.engines.spark.session")))
def test_no_process_or_thread_machinery(module):
    # parallelism goes through n_jobs and joblib (custseg._parallel); only the console
    # entry point freezes the garbage collector, at exit; _workers runs inside joblib's
    # worker processes only; the Spark session starts its JVM
    text = MODULES[module].read_text(encoding="utf-8")
    assert [word for word in MACHINERY if word in text] == []
