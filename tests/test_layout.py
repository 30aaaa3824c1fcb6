"""The package layout keeps its promises: small modules, no import cycles, no shadowing.

- **Small modules.** No module in ``mediagen/`` or ``flows/`` is over
  :data:`MAX_LINES` lines: one concern a module, easy to review and to merge.
- **No import cycles** among mediagen's modules. The graph is read from the
  source with :mod:`ast` and counts imports inside functions too: a lazy import
  defers the cost of a module, not the dependency on it, and a cycle hidden in a
  function (``spec`` ↔ ``spec_errors`` once) still means neither module can be
  understood, tested or moved without the other. Imports under
  ``if TYPE_CHECKING:`` don't count: they never run, they only name types.
  The direction between packages is ``lint-imports``'s job (``.importlinter``).
- **No shadowing.** Prefect loads a deployment's entrypoint
  (``flows/generate_media.py``) with its folder on ``sys.path``, and Dask's
  worker processes inherit that path: a ``flows/secrets.py`` once hid the
  stdlib ``secrets`` module and every ``adhoc-dask`` run failed with "Nanny
  failed to start". ``python path/to/module.py`` does the same for any folder.
  So no module or package folder under ``flows/`` or ``mediagen/``, at any
  depth, is named like a stdlib module or an installed distribution's
  top-level name.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("mediagen", "flows")
MAX_LINES = 400

# Modules allowed over MAX_LINES while they are being split (strict xfail: an entry
# fails the moment its module fits, then delete it). Empty since issue 14.
BEING_SPLIT: dict[str, str] = {}

OURS = {"mediagen"}  # our own distribution: its names are ours to use


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# --- module sizes -----------------------------------------------------------------------


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(
            relative(p),
            marks=pytest.mark.xfail(strict=True, reason=BEING_SPLIT[relative(p)])
            if relative(p) in BEING_SPLIT
            else (),
        )
        for p in source_files()
    ],
)
def test_no_module_is_over_400_lines(where: str) -> None:
    assert line_count(REPO / where) <= MAX_LINES, f"{where}: {line_count(REPO / where)} lines"


def test_every_module_being_split_exists() -> None:
    # A stale entry (a module renamed or deleted) would hide nothing, but mislead.
    assert {relative(p) for p in source_files()} >= set(BEING_SPLIT)


# --- import cycles ----------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, but those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    """mediagen module -> the mediagen modules it imports (submodules resolved:
    ``from mediagen.spec import alt_text`` is an edge to ``mediagen.spec.alt_text``)."""
    files = {module_name(p): p for p in (REPO / "mediagen").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: resolved against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            edges |= {t for t in targets if t in files and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_cycle_finder_finds_cycles() -> None:
    # Guards the test below: a finder that finds nothing would always pass.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]
    real = import_graph()
    assert "mediagen.errors" in real["mediagen.cli.console"]
    assert "mediagen.spec.alt_text" in real["mediagen.backends.offline"]  # from-import of a module


def test_the_graph_skips_type_checking_imports_only() -> None:
    tree = ast.parse(
        "import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\ndef f():\n    import d\n"
    )
    assert [alias.name for node in _imports(tree) for alias in node.names] == ["a", "c", "d"]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (function-level imports count):\n" + "\n".join(
        " <-> ".join(component) for component in found
    )


# --- provider names ---------------------------------------------------------------------

PROVIDER = re.compile(r"gemini|genai|google", re.IGNORECASE)
PROVIDER_HOMES = ("mediagen/backends/", "mediagen/testing/")
# The public surface may re-export a provider's config class (``mediagen.GeminiConfig``).
PROVIDER_ALLOWED = {"mediagen/__init__.py"}


def our_names() -> dict[str, Path]:
    """Every module and package folder name under flows/ and mediagen/, at any depth."""
    names = {package: REPO / package for package in PACKAGES}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*")):
            if "__pycache__" in path.parts:
                continue
            if path.suffix == ".py" and path.stem not in {"__init__", "__main__"}:
                names.setdefault(path.stem, path)
            elif path.is_dir() and (path / "__init__.py").is_file():
                names.setdefault(path.name, path)
    return names


def installed_names() -> dict[str, list[str]]:
    """Top-level import names of every installed distribution but ours."""
    return {
        name: dists
        for name, dists in importlib.metadata.packages_distributions().items()
        if not set(dists) <= OURS
    }


def test_the_name_lists_are_real() -> None:
    # Guards the test itself: an empty list would make the check below pass.
    assert {"generate_media", "workdir", "codec", "bucket", "gemini"} <= set(our_names())
    assert {"prefect", "PIL", "distributed"} <= set(installed_names())
    assert {"secrets", "logging"} <= sys.stdlib_module_names


def test_no_module_shadows_the_stdlib_or_an_installed_package() -> None:
    installed = installed_names()
    clashes = [
        f"{path.relative_to(REPO)} hides the stdlib module {name!r}"
        if name in sys.stdlib_module_names
        else f"{path.relative_to(REPO)} hides {name!r} of {', '.join(installed[name])}"
        for name, path in sorted(our_names().items())
        if name in sys.stdlib_module_names or name in installed
    ]
    assert not clashes, "\n".join(clashes)
