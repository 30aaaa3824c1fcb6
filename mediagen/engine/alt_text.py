"""The alt text of an image: the spec's own, or written by the backend once and cached.

Text a person wrote is used as is. ``alt_text: auto`` asks the backend once per
generation, purpose and describing model, under the run's guards; the answer is
cached in the bucket beside the original, so later runs and new renditions never
ask again. A failed describe never fails a paid image (see :func:`alt_text_of`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from mediagen.backends import Backend
from mediagen.backends.base import Description
from mediagen.engine.context import RunContext
from mediagen.engine.run import Run
from mediagen.errors import (
    AuthError,
    BackendError,
    BlockedError,
    BudgetExceededError,
    ConfigurationError,
)
from mediagen.imaging.renditions import PreparedImage
from mediagen.manifest import costs
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob
from mediagen.spec import alt_text

logger = logging.getLogger("mediagen")


@dataclass(frozen=True)
class AltText:
    text: str | None = None
    source: str | None = None  # "human" | "auto" | "fallback"
    cost_usd: float = 0.0  # of the describe call (from the cache when it was made earlier)
    error: str | None = None  # why a fallback text was used instead of the model's


def alt_text_of(job: ImageJob, prepared: PreparedImage, ctx: RunContext, run: Run) -> AltText:
    """The image's alt text and where it came from; empty when the spec asks for none.

    Text a person wrote is used as is. ``auto`` asks the backend once per
    generation, purpose and describing model; the answer is cached in the bucket
    beside the original, so later runs and new renditions never ask again. When
    the describing model refuses (a safety block) or writes nothing, the image is
    still published, with a deterministic description from the prompt
    (``"fallback"``): the picture itself was fine. So is any other error of the
    describe call (a 400, a retired text model, retries run out): the image was
    paid for, and it is published with the fallback text and the reason
    (``alt_text_error``); that answer is not cached, so a later run asks again.
    """
    if job.alt_text is None:
        return AltText()
    if not alt_text.is_auto(job.alt_text):
        return AltText(job.alt_text, "human")
    backend = run.backend(job.backend)
    bucket = run.bucket(ctx.bucket)
    identity = {
        "gen": job.gen_key,
        "purpose": job.purpose,
        "backend": job.backend,
        "describe_model": backend.describe_model,
        "v": alt_text.DESCRIBE_VERSION,
    }
    cache_key = keys.alt_text_key(job.original_key, identity)
    try:
        record = json.loads(bucket.get(cache_key))
        source, cost = record.get("source", "auto"), record.get("cost_usd", 0.0)
        return AltText(record["alt_text"], source, cost)
    except FileNotFoundError:
        pass
    cache = True
    described = None
    error = None
    try:
        described = _describe(job, backend, prepared.describe_jpeg(), ctx, run)
    except BlockedError as exc:
        logger.warning(
            "image %s: the alt-text model refused to describe it (%s); "
            "using a description from the prompt",
            job.id,
            exc.reason,
        )
    except BudgetExceededError as exc:
        cache = False  # not a verdict on the image: a later run may ask
        logger.warning("image %s: no alt text asked (%s); using the prompt's subject", job.id, exc)
    except BackendError as exc:  # never fail a paid image for its alt text
        cache = False
        error = str(exc)[:300]
        logger.warning(
            "image %s: alt text failed (%s); using a description from the prompt", job.id, error
        )
    text = alt_text.clip(described.text if described else "")
    source = "auto"
    if not text:
        if described is not None:
            logger.warning(
                "image %s: the backend wrote no alt text; using the prompt's subject", job.id
            )
        text, source = alt_text.from_prompt(job.prompt), "fallback"
    cost = described.cost_usd if described else 0.0
    if cache:
        record = {**identity, "alt_text": text, "source": source, "cost_usd": cost}
        if described is not None and described.usage:
            record["usage"] = described.usage
        bucket.put(
            cache_key, json.dumps(record).encode(), content_type="application/json", public=False
        )
    return AltText(text, source, cost, error)


def _describe(
    job: ImageJob, backend: Backend, image: bytes, ctx: RunContext, run: Run
) -> Description:
    """One describe call under the run's guards, as ``generate.call_backend`` for images."""
    run.check()
    bucket = run.bucket(ctx.bucket)
    estimate = backend.estimate_describe_cost()
    ledger = costs.Call(bucket, ctx.prefix, job.id, ctx.run_id, "alt_text")
    with run.backend_slot(), run.reserve(estimate, f"alt text of {job.id!r}") as charge:
        run.check()
        if estimate > 0:
            ledger.open()
        try:
            described = backend.describe_with_usage(image, "image/jpeg", job.purpose, job.request)
        except BaseException as exc:
            costs.settle(ledger, exc)
            if isinstance(exc, AuthError | ConfigurationError):
                run.refused(exc)
            raise
        paid = costs.Payment(described.model, "alt_text", described.cost_usd, described.usage)
        costs.settle(ledger, paid)
        charge.settle(described.cost_usd)
    return described


__all__ = ["AltText", "alt_text_of"]
