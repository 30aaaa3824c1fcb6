"""No provider name in code outside ``mediagen/backends/`` and ``mediagen/testing/``.

Every module of ``mediagen/`` and ``flows/`` is parsed with :mod:`ast`; a
provider's name in a string literal, an identifier, an attribute, an argument
or an import fails the test. Docstrings and comments may name providers (they
explain, they do not decide). A second backend must not have to edit the core.

The allowlist is short, and each entry is public API that users already rely on.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROVIDER_WORDS = ("gemini", "google", "genai", "imagen")
OWNERS = ("mediagen/backends/", "mediagen/testing/")  # where provider knowledge lives

# (file, name) → why it may stay.
ALLOWED: dict[tuple[str, str], str] = {
    ("mediagen/client/config.py", "mediagen.backends.gemini.settings"): (
        "ClientConfig re-exports the public GeminiConfig, defined by the backend"
    ),
    ("mediagen/client/config.py", "GeminiConfig"): (
        "public API since 0.x: ClientConfig(gemini=GeminiConfig(api_key=...))"
    ),
    ("mediagen/client/config.py", "gemini"): (
        "the ClientConfig.gemini group (public API); found by type, never by this name"
    ),
    ("mediagen/client/api.py", "GeminiConfig"): "public API re-export (mediagen.client.api)",
    ("mediagen/__init__.py", "GeminiConfig"): "public API re-export (from mediagen import ...)",
}


def _modules() -> Iterator[tuple[str, Path]]:
    for root in ("mediagen", "flows"):
        for path in sorted((REPO / root).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if not rel.startswith(OWNERS):
                yield rel, path


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (module, class, function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal and name the code uses, docstrings aside."""
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield line, node.value
        elif isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.arg | ast.keyword) and node.arg:
            yield line, node.arg
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield line, node.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield line, node.module
        elif isinstance(node, ast.alias):
            yield line, node.asname or node.name


def _leaks(rel: str, source: str) -> list[str]:
    out = []
    for line, text in _names(ast.parse(source)):
        named = any(word in text.lower() for word in PROVIDER_WORDS)
        if named and (rel, text) not in ALLOWED:
            out.append(f"{rel}:{line}: {text[:80]!r}")
    return out


def test_no_provider_name_in_code_outside_the_backends() -> None:
    leaks = [leak for rel, path in _modules() for leak in _leaks(rel, path.read_text())]
    assert not leaks, "provider names outside mediagen/backends/:\n" + "\n".join(leaks)


def test_every_allowlist_entry_is_still_needed() -> None:
    used = {
        (rel, text)
        for rel, path in _modules()
        for _, text in _names(ast.parse(path.read_text()))
        if (rel, text) in ALLOWED
    }
    assert set(ALLOWED) == used, f"stale allowlist entries: {set(ALLOWED) - used}"


def test_the_check_finds_what_it_must_and_spares_what_it_may() -> None:
    code = (
        '"""Talks to Gemini (a docstring may say so)."""\n'
        "# a comment may too: gemini\n"
        "from mediagen.backends.gemini import pricing\n"
        "def f(settings):\n"
        '    """Gemini here is fine."""\n'
        '    if settings.backend == "gemini":\n'
        "        return settings.gemini_api_key\n"
        '    return f"{GEMINI_MODELS} via genai"\n'
    )
    found = {leak.split(": ", 1)[1] for leak in _leaks("mediagen/plan/example.py", code)}
    assert found == {
        "'mediagen.backends.gemini'",
        "'gemini'",
        "'gemini_api_key'",
        "'GEMINI_MODELS'",
        "' via genai'",
    }
