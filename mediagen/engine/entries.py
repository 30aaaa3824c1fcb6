"""An image's manifest entry, published or not, and how a failure is recorded.

One place decides what a failure becomes: ``blocked`` (a safety refusal, with its
reason), ``skipped`` (the budget ran out before it was made), ``pending`` (an
interrupted run: the next run makes it) or ``failed``; and whether the image was
stopped by the run's abort (``aborted``, typed: never guessed from the message).
"""

from __future__ import annotations

from datetime import UTC, datetime

from mediagen.engine.context import Generated, RunContext
from mediagen.errors import (
    AuthError,
    BlockedError,
    BudgetExceededError,
    ConfigurationError,
    RunAbortedError,
    RunInterruptedError,
)
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob
from mediagen.reasons import short_reason


def failed_entry(
    job: ImageJob,
    ctx: RunContext,
    error: BaseException | str,
    status: str = "failed",
    generated: Generated | None = None,
    *,
    aborted: bool | None = None,
) -> ImageEntry:
    """The manifest entry of an image that could not be published.

    Status: ``blocked`` (safety refusal, with its reason and message),
    ``skipped`` (the budget ran out before it was made) or ``failed``.
    ``generated``: its original, when it failed after that was made (and paid for).
    ``aborted``: stopped by the run's abort (default: from the error's type).
    """
    fields: dict[str, object] = {"generated": generated} if generated is not None else {}
    if aborted is None:
        aborted = is_abort(error)
    if aborted:
        fields["aborted"] = True
    if isinstance(error, BlockedError):
        status = "blocked"
        detail = short_reason(error.detail) if error.detail else None
        fields = {"blocked_reason": error.reason, "blocked_message": detail}
    elif isinstance(error, BudgetExceededError):
        status = "skipped"
    attempts = list(getattr(error, "attempts", None) or [])
    if attempts:  # the model is the last one tried: the one the error came from
        fields |= {"attempts": attempts, "model": attempts[-1].get("model", "")}
    paid = float(getattr(error, "cost_usd", 0.0) or 0.0)
    if paid or getattr(error, "usage", None):  # an answer without an image is billed too
        fields |= {"cost_usd": paid, "cost_run_id": ctx.run_id, "usage": error.usage}  # type: ignore[union-attr]
    # Redacted, one line, no memory addresses or HTML pages (see mediagen.reasons).
    return entry(job, ctx, status, error=short_reason(error), **fields)


def is_abort(error: BaseException | str) -> bool:
    """True for an error that stops the whole run: a refused key or setting, or the abort
    that follows it (an interrupt is not one: its images are ``pending``)."""
    if isinstance(error, RunInterruptedError):
        return False
    return isinstance(error, RunAbortedError | AuthError | ConfigurationError)


def entry(job: ImageJob, ctx: RunContext, status: str, **fields: object) -> ImageEntry:
    """An image's manifest entry: the job's fields, its original's (``generated=``), ``fields``."""
    generated = fields.pop("generated", None)
    request = job.request
    data = {
        "id": job.id,
        "status": status,
        "width": request.width,
        "height": request.height,
        "format": job.outputs[0].format,
        "prompt": request.prompt,
        "subject": job.subject,
        "backend": job.backend,
        "model": request.model or "",
        "seed": request.seed,
        "theme": request.theme,
        "size": job.size_name,
        "quality": request.quality,
        "gen_key": job.gen_key,
        "delivery": job.delivery,  # sync | batch | flex: how the spec asks (not in gen_key)
        "tags": list(job.tags),
        "metadata": job.metadata,
        "run_id": ctx.run_id,
        "updated_at": datetime.now(UTC),
    }
    if isinstance(generated, Generated):
        data |= {
            "original_key": generated.original_key,
            "model": generated.model,
            "backend": generated.backend,
            "ai_generated": generated.ai_generated,
            "usage": generated.usage,
            "cost_usd": generated.cost_usd,
            "cost_run_id": generated.cost_run_id or (None if generated.reused else ctx.run_id),
            "attempts": generated.attempts,
        }
    return ImageEntry.model_validate(data | fields)


__all__ = ["entry", "failed_entry", "is_abort"]
