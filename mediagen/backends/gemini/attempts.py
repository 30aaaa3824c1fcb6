"""What happened on each model of a chain, and what an answer without an image cost.

Every model tried is recorded (``GenerationResult.attempts``, or the
``attempts`` attribute of the error raised): its outcome (ok, blocked,
retired, unavailable, transient, failed, timeout) and the reason. A model
the catalogue lists as shut down that answers 404 is reported as retired,
with its replacement.
"""

from __future__ import annotations

import json

from mediagen.backends.gemini import catalogue
from mediagen.backends.gemini.response import usage_of
from mediagen.errors import BlockedError, ModelUnavailableError, TransientError


def usage_of_body(body: str | bytes | None) -> dict[str, int]:
    try:
        answer = json.loads(body or "{}")
    except ValueError:
        return {}
    return usage_of(answer.get("usageMetadata")) if isinstance(answer, dict) else {}


def retired_error(model: str, exc: BaseException) -> ModelUnavailableError | None:
    """A 404 from a model the catalogue lists as shut down, said plainly."""
    if not isinstance(exc, ModelUnavailableError):
        return None
    info = catalogue.lookup(model)
    if info is None or info.status_on() != "retired":
        return None
    instead = f"; use {info.replacement!r}" if info.replacement else ""
    return ModelUnavailableError(f"Gemini {model}: retired (shut down {info.shutdown}){instead}")


def attempt(model: str, exc: BaseException) -> dict[str, str]:
    """One entry of the attempts list: the model, what happened, and why."""
    if isinstance(exc, BlockedError):
        outcome = "blocked"
    elif isinstance(exc, ModelUnavailableError):
        outcome = "retired" if "retired (shut down" in str(exc) else "unavailable"
    elif isinstance(exc, TransientError):
        outcome = "transient"
    else:
        outcome = "failed"
    return {"model": model, "outcome": outcome, "reason": str(exc)[:300]}
