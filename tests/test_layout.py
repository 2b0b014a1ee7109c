"""curator's layout rules (issue 20): no import cycle among curator's modules, no module over
800 lines.

Every module under ``curator/`` (recursively) is parsed with ``ast``; its imports of curator's
own modules are read wherever they are written: at module level, inside functions and methods
(lazy imports), and under ``if TYPE_CHECKING:``. **Lazy imports count**: deferring an import to
call time only hides a cycle from the interpreter; the two modules still need each other, so
neither can be understood, tested or moved without the other. What does *not* count is the
import of a package's ``__init__`` that Python performs implicitly before a submodule
(``curator.select.knn`` runs ``curator/select/__init__.py`` first): that is package
machinery, not a dependency the module wrote, and counting it would turn every package that
re-exports its submodules into a cycle. A submodule that imports *from* its own package's
``__init__`` (``from . import NAME``, ``from curator.select import NAME``) does count.

``from X import name`` depends on ``X.name`` when that is a module, else on ``X`` itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "curator"
MAX_LINES = 800

# Modules excused from the rules below. Empty since issue 20 split dedup and grounding; a listed
# module that no longer offends (or no longer exists) fails the last test, so it cannot go stale.
KNOWN: set[str] = set()


# -- the import graph ------------------------------------------------------------------------
Edge = tuple[str, str, int]  # (importing module, imported module, line)


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``package`` (a package's
    ``__init__.py`` is the package's own name)."""
    out: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    """Edges from module ``name`` to the curator modules it imports, anywhere in the file.

    An import of a curator module that does not exist is an edge to ``"?" + its name`` (mypy
    runs with ``ignore_missing_imports``, so it would not say)."""
    root = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: list[Edge] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.split(".")[0] == root]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != root:
                continue
            # `from X import name`: the module X.name if there is one, else X itself
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for t in targets:
            if t != name:
                edges.append((name, t if t in modules else "?" + t, node.lineno))
    return edges


def import_graph(package: Path) -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    """Modules and ``graph[a][b]`` = first line where module ``a`` imports module ``b``."""
    modules = module_files(package)
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for name, path in modules.items():
        for a, b, line in imports_of(name, path, modules):
            graph[a].setdefault(b, line)
    return modules, graph


def missing(graph: dict[str, dict[str, int]]) -> list[str]:
    return sorted(f"{a}:{line} imports {b[1:]}" for a, bs in graph.items() for b, line in bs.items()
                  if b.startswith("?"))


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One concrete cycle (``[a, b, ..., a]``) per strongly connected component with more than
    one module, found with Tarjan's algorithm; sorted, so messages are stable."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth <= number of modules (~50)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)

    out = []
    for comp in sorted(comps):
        out.append(_shortest_cycle(comp[0], set(comp), graph))
    return out


def _shortest_cycle(start: str, members: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """``[start, ..., start]``: the shortest way from ``start`` back to itself (breadth first)."""
    parent: dict[str, str] = {}
    todo = [start]
    while todo:
        nxt = []
        for v in todo:
            for w in sorted(graph[v]):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return path[::-1] + [start]
                if w in members and w not in parent:
                    parent[w] = v
                    nxt.append(w)
        todo = nxt
    raise AssertionError(f"{start} is in no cycle")  # pragma: no cover - Tarjan found one


def describe(cycle: list[str], modules: dict[str, Path], graph: dict[str, dict[str, int]],
             root: Path = ROOT) -> str:
    """``a -> b -> a  (curator/a.py:12 imports b; curator/b.py:3 imports a)``."""
    steps = [f"{modules[a].relative_to(root).as_posix()}:{graph[a][b]} imports {b}"
             for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + "  (" + "; ".join(steps) + ")"


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def line_count(path: Path) -> int:
    return len(path.read_text("utf-8").splitlines())


# -- the rules ---------------------------------------------------------------------------------
def test_every_curator_import_names_an_existing_module() -> None:
    _, graph = import_graph(PACKAGE)
    assert not missing(graph), "imports of curator modules that do not exist: " + ", ".join(missing(graph))


def test_no_import_cycle_among_curators_modules() -> None:
    modules, graph = import_graph(PACKAGE)
    bad = [c for c in cycles(graph) if not all(rel(modules[m]) in KNOWN for m in c)]
    assert not bad, "import cycles in curator/:\n" + "\n".join(describe(c, modules, graph) for c in bad)


def test_no_module_over_800_lines() -> None:
    modules, _ = import_graph(PACKAGE)
    too_long = {rel(p): line_count(p) for p in modules.values() if line_count(p) > MAX_LINES}
    bad = {p: n for p, n in too_long.items() if p not in KNOWN}
    assert not bad, f"modules over {MAX_LINES} lines: " + ", ".join(f"{p} ({n})" for p, n in sorted(bad.items()))


def test_known_offenders_still_offend() -> None:
    """Each KNOWN module must still break a rule; once it does not, it leaves KNOWN."""
    modules, graph = import_graph(PACKAGE)
    in_cycle = {rel(modules[m]) for c in cycles(graph) for m in c}
    for path in sorted(KNOWN):
        f = ROOT / path
        offends = f.exists() and (line_count(f) > MAX_LINES or path in in_cycle)
        assert offends, f"{path} no longer breaks a layout rule (or is gone): remove it from KNOWN"


# -- the checker itself ------------------------------------------------------------------------
def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, "utf-8")
    return root / "curator"


def test_checker_sees_lazy_relative_and_type_checking_imports(tmp_path: Path) -> None:
    pkg = _write(tmp_path, {
        "curator/__init__.py": "__version__ = '0'\n",
        "curator/a.py": "from . import __version__\n\ndef f():\n    from .b import g\n    return g\n",
        "curator/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub.c import h\n",
        "curator/sub/__init__.py": "from .c import h\n",
        "curator/sub/c.py": "import curator.a as a\n",
        "curator/sub/d.py": "from .. import b\nfrom ..sub import h\nimport numpy\n",
        "curator/e.py": "from curator.sub import c\nfrom .nope import x\nimport curator.gone\n",
    })
    modules, graph = import_graph(pkg)
    assert graph["curator.a"] == {"curator": 1, "curator.b": 4}
    assert graph["curator.b"] == {"curator.sub.c": 3}
    assert graph["curator.sub"] == {"curator.sub.c": 1}
    assert graph["curator.sub.c"] == {"curator.a": 1}
    assert graph["curator.sub.d"] == {"curator.b": 1, "curator.sub": 2}
    assert graph["curator.e"] == {"curator.sub.c": 1, "?curator.nope": 2, "?curator.gone": 3}
    assert missing(graph) == ["curator.e:2 imports curator.nope", "curator.e:3 imports curator.gone"]
    # a -> b (lazy) -> sub.c (type-only) -> a: one cycle, named in import order
    assert cycles(graph) == [["curator.a", "curator.b", "curator.sub.c", "curator.a"]]
    assert describe(cycles(graph)[0], modules, graph, root=tmp_path) == (
        "curator.a -> curator.b -> curator.sub.c -> curator.a  (curator/a.py:4 imports curator.b; "
        "curator/b.py:3 imports curator.sub.c; curator/sub/c.py:1 imports curator.a)")


def test_checker_finds_no_cycle_in_a_chain_and_one_per_component() -> None:
    assert cycles({"x": {"y": 1}, "y": {"z": 1}, "z": {}}) == []
    found = cycles({"p": {"q": 1}, "q": {"p": 2}, "r": {"s": 1}, "s": {"t": 1}, "t": {"r": 1}})
    assert found == [["p", "q", "p"], ["r", "s", "t", "r"]]


@pytest.mark.parametrize("n, over", [(MAX_LINES, False), (MAX_LINES + 1, True)])
def test_line_limit_is_inclusive(tmp_path: Path, n: int, over: bool) -> None:
    f = tmp_path / "m.py"
    f.write_text("x = 1\n" * n, "utf-8")
    assert (line_count(f) > MAX_LINES) is over
