"""Secrets never leave the process in an error: one registry of values, one scrubber.

Every secret mediagen resolves (the Gemini key, storage keys and tokens) is
registered here the moment it is read. :func:`redact` replaces each one in a
text; :func:`scrub` does the same to an exception and everything chained to it
(``__cause__``, ``__context__``, ``args``, string attributes and the dicts or
lists SDK errors keep their answers in), in place.

The boundaries where third-party errors are translated into mediagen's
(:mod:`mediagen.backends.gemini.backend` ``_send``, :mod:`mediagen.storage.error_map`)
call :func:`scrub` on the original and raise the translation with
``from None``: a traceback printed by Prefect or ``-v`` shows our redacted
message only, and whatever still walks the chain finds nothing to leak.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)

REDACTED = "***"
# Short strings would redact ordinary words; real keys are 16+ characters.
MIN_SECRET_LENGTH = 6

_secrets: set[str] = set()
_lock = threading.Lock()


def register(*values: str | None) -> None:
    """Remember secret values so every later :func:`redact` scrubs them."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """Strings, and strings inside dicts, lists and tuples, redacted (other values as is)."""
    if isinstance(value, str):
        return redact(value)
    if depth > 8:  # an answer body is shallow; a deeper structure is not ours to walk
        return value
    if isinstance(value, dict):
        return {k: redact_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [redact_value(v, depth + 1) for v in value]
        return type(value)(items) if isinstance(value, list) else tuple(items)
    return value


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception chained to it (causes and contexts, each once)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


def scrub(exc: E) -> E:
    """Redact ``exc`` and its whole chain in place; returns ``exc``."""
    for link in chain(exc):
        with contextlib.suppress(AttributeError, TypeError):  # exotic exception types
            link.args = tuple(redact_value(a) for a in link.args)
        # Some messages live in C slots, not in ``args`` or ``__dict__`` (OSError.strerror).
        names = [n for n in _SLOT_NAMES if isinstance(getattr(link, n, None), str)]
        for name, value in [*getattr(link, "__dict__", {}).items(), *_pairs(link, names)]:
            if isinstance(value, str | dict | list | tuple):
                cleaned = redact_value(value)
                if cleaned is not value and cleaned != value:
                    with contextlib.suppress(AttributeError, TypeError):  # read-only
                        setattr(link, name, cleaned)
        notes = getattr(link, "__notes__", None)
        if isinstance(notes, list):
            link.__notes__ = [redact(str(n)) for n in notes]
    return exc


_SLOT_NAMES = ("strerror", "filename", "filename2", "msg", "reason")


def _pairs(link: BaseException, names: list[str]) -> list[tuple[str, Any]]:
    return [(n, getattr(link, n)) for n in names]


def leaks(exc: BaseException) -> bool:
    """Whether any registered secret shows in ``exc``'s chain (for checks and tests)."""
    with _lock:
        secrets = list(_secrets)
    for link in chain(exc):
        texts = [str(link), repr(link.args)]
        texts += [getattr(link, n) for n in _SLOT_NAMES if isinstance(getattr(link, n, None), str)]
        texts += [repr(v) for v in getattr(link, "__dict__", {}).values()
                  if isinstance(v, str | dict | list | tuple)]  # fmt: skip
        if any(s in t for s in secrets for t in texts):
            return True
    return False


__all__ = ["REDACTED", "chain", "leaks", "redact", "redact_value", "register", "scrub"]
