"""The test suite's own layout: no test module imports another test module.

Shared fixtures live in a ``conftest.py`` (or a fixture module under tests/support/
that tests/conftest.py registers as a plugin); shared plain helpers live in
tests/support/. A test module that imports another one runs the other's module
code, pulls its fixtures into its namespace by accident (shadowing, F811) and
breaks when the other is moved or renamed.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def is_test_module(dotted: str) -> bool:
    return dotted.split(".")[0] == "tests" and dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every module ``source`` (a module of ``package``) imports,
    relative imports resolved."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from tests.cli import test_cli` imports a module by its name.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parts[:-1])


def test_no_test_module_imports_another_test_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_modules(path.read_text(), package_of(path))
        if is_test_module(module)
    ]
    hint = "move shared fixtures to a conftest.py and helpers to tests/support/:\n"
    assert not offenders, hint + "\n".join(offenders)


def test_the_check_sees_each_form_of_import() -> None:
    # The check itself can fail: each way of importing a test module is caught.
    forms = [
        "from tests.cli.test_cli import project",
        "import tests.cli.test_cli",
        "from tests.cli import test_cli",
        "from .test_cli import project",
        "from . import test_cli",
        "from ..e2e.test_cancel import cancel",
    ]
    for form in forms:
        assert [m for _, m in imported_modules(form, "tests.cli") if is_test_module(m)], form
    fine = "from tests.support.cli import mediagen\nfrom .conftest import project\nimport pytest"
    assert not [m for _, m in imported_modules(fine, "tests.cli") if is_test_module(m)]
