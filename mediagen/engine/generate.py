"""Stage 1 of an image: make the original (or find it in the bucket) and store it privately.

The bucket is the cache: the original is stored under ``_originals/{gen_key}`` the
moment the backend answers, with a ``.json`` sidecar that says it is complete, so
the same request twice (any run, any process, the Python API too) pays once.
Every backend call goes through the run's guards (:class:`~mediagen.engine.run.Run`):
not after an abort or interrupt, not past the budget, within the run's backend
slots, with its cost recorded before the call (:mod:`mediagen.manifest.costs`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

from mediagen.backends import GenerationResult, get_backend_class
from mediagen.engine.context import Generated, RunContext
from mediagen.engine.references import with_reference_bytes
from mediagen.engine.run import Run
from mediagen.errors import (
    AuthError,
    BadAnswerError,
    BlockedError,
    BudgetExceededError,
    ConfigurationError,
    PermanentError,
    RunAbortedError,
)
from mediagen.imaging.answer_check import check_answer
from mediagen.manifest import costs
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob
from mediagen.storage import scratch

logger = logging.getLogger("mediagen")


def generate(job: ImageJob, ctx: RunContext, run: Run) -> Generated:
    """Make the original (or find it in the bucket) and store it privately."""
    bucket = run.bucket(ctx.bucket)
    started = time.perf_counter()
    sidecar_key = keys.sidecar_key(job.original_key)
    try:
        info = json.loads(bucket.get(sidecar_key))
        reused = Generated(**{**info, "reused": True, "seconds": time.perf_counter() - started})
        run.emit(job.id, "generated")
        return reused
    except FileNotFoundError:
        pass
    except (ValueError, TypeError):  # a sidecar that is not ours, or broken: make it anew
        logger.warning("image %s: unreadable original sidecar %s; generating again", job.id,
                       sidecar_key)  # fmt: skip
    # A generation whose upload failed (storage down longer than its retries) waits in
    # the scratch folder: the task's retry uploads it instead of paying the backend again.
    pending = scratch.scratch_dir(run.settings) / f"{job.gen_key}.original"
    try:
        info, data = scratch.read_pending(pending)
    except (FileNotFoundError, ValueError):
        ledger = costs.Call(bucket, ctx.prefix, job.id, ctx.run_id, "image")
        try:
            # Reference images: read (and checked against gen_key) only when paying.
            request = with_reference_bytes(job.request, bucket)
            result = call_backend(replace(job, request=request), run, ledger)
        except BaseException as exc:
            costs.settle(ledger, exc)
            if isinstance(exc, BlockedError):
                run.emit(job.id, "blocked")
            elif isinstance(
                exc, RunAbortedError | BudgetExceededError | PermanentError | ConfigurationError
            ):
                run.emit(job.id, "failed")  # final: no retry will follow
            raise
        try:
            # Checked before it is stored: a cached original is never asked for again.
            checked = check_answer(result.data, run.settings)
        except BadAnswerError as exc:
            exc.cost_usd, exc.usage = result.cost_usd, result.usage  # paid, though unusable
            costs.settle(ledger, result)
            run.emit(job.id, "failed")
            raise
        info = {
            "original_key": keys.original_key(job.original_key, checked.extension),
            "mime_type": checked.mime_type,  # what the bytes are, whatever the answer said
            "backend": result.backend,
            "model": result.model,
            "ai_generated": result.ai_generated,
            "usage": result.usage,
            "cost_usd": result.cost_usd,
            "cost_run_id": ctx.run_id,
            "attempts": list(result.attempts),
        }
        data = result.data
        scratch.write_pending(pending, data, info)
        costs.settle(ledger, result)  # after the scratch copy: a crash now never pays twice
    original_key = info["original_key"]
    # Originals are never public: the bucket is their cache, not their shop window.
    bucket.put(original_key, data, content_type=info["mime_type"], public=False)
    # The sidecar goes last: its presence means the original is complete.
    bucket.put(
        sidecar_key, json.dumps(info).encode(), content_type="application/json", public=False
    )
    scratch.forget_pending(pending)
    run.emit(job.id, "generated")
    return Generated(**info, reused=False, seconds=time.perf_counter() - started)


def call_backend(job: ImageJob, run: Run, ledger: costs.Call | None = None) -> GenerationResult:
    """One backend call under the run's guards: not after an abort, not past the budget."""
    run.check()
    estimate = get_backend_class(job.backend).estimate_cost(job.request, run.settings)
    with run.backend_slot(), run.reserve(estimate, f"image {job.id!r}") as charge:
        run.check()  # the run may have been stopped while this waited for a slot
        if ledger is not None and estimate > 0:
            ledger.open()  # paid calls only: the offline renderer costs nothing
        try:
            result = run.backend(job.backend).generate(job.request)
        except (AuthError, ConfigurationError) as exc:
            # Every further call would be refused too: stop the run, say it once.
            run.refused(exc)
            raise
        charge.settle(result.cost_usd)
    return result


__all__ = ["call_backend", "generate"]
