"""The three stages of an image (generate → process → upload) and the final manifest.

These are plain functions of small, picklable values, so any executor can run
them: Prefect tasks (``flows/``), the Python API, or a test. Bytes never travel
between stages: the original goes to the bucket, processed files to a scratch
folder, and the stages hand each other keys and paths.

Clients (bucket, backend) are built lazily once per process, never shipped:
s3fs is not fork-safe and SDK clients hold sockets.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mediagen.backends import Backend, GenerationResult, get_backend_class
from mediagen.backends.base import Description
from mediagen.engine import events, ratelimit
from mediagen.engine import guard as run_guard
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.errors import (
    AuthError,
    BackendError,
    BadAnswerError,
    BlockedError,
    BudgetExceededError,
    ConfigurationError,
    PermanentError,
    ProcessingError,
    RunAbortedError,
)
from mediagen.imaging import pixel_budget
from mediagen.imaging.answer_check import check_answer
from mediagen.imaging.answer_check import inspect as inspect_image
from mediagen.imaging.codec import EXTENSIONS, Provenance, digital_source_type
from mediagen.imaging.facts import compute_facts, web_fields
from mediagen.imaging.renditions import PreparedImage, PublishedFile
from mediagen.manifest import costs, prefix_owner, visibility
from mediagen.manifest.commit import commit_manifest, count_images, keys_in_use, merge
from mediagen.manifest.gallery import write_gallery
from mediagen.manifest.model import ImageEntry, Manifest, OutputEntry
from mediagen.plan.diff import Plan
from mediagen.plan.jobs import ImageJob, canonical_hash
from mediagen.reasons import short_reason
from mediagen.settings import Settings, get_settings
from mediagen.spec import alt_text
from mediagen.storage import scratch
from mediagen.storage.bucket import Bucket, BucketConfig, cache_control_for
from mediagen.storage.url_expiry import url_expiry

logger = logging.getLogger("mediagen")

GENERATOR = "mediagen 0.1.0"


# -- per-process clients ------------------------------------------------------

_clients: dict[tuple[int, object], object] = {}
_clients_lock = threading.Lock()


def bucket_for(config: BucketConfig) -> Bucket:
    return _client((os.getpid(), config), lambda: Bucket(config))  # type: ignore[return-value]


def backend_for(name: str, settings: Settings | None = None) -> Backend:
    def build() -> Backend:
        chosen = settings or get_settings()
        return get_backend_class(name)(chosen, ratelimit.ProcessCalls(chosen.rate_limits))

    return _client((os.getpid(), ("backend", name)), build)  # type: ignore[return-value]


def _client(key: tuple[int, object], build):  # type: ignore[no-untyped-def]
    with _clients_lock:
        if key not in _clients:
            _clients[key] = build()
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests and settings changes)."""
    with _clients_lock:
        for client in _clients.values():
            if isinstance(client, Backend):
                client.close()
        _clients.clear()


# Backend calls in flight in this process, whatever the executor's thread count.
_backend_slots = threading.BoundedSemaphore(8)


def set_concurrency(limit: int) -> None:
    """Bound the backend calls this process makes at once."""
    global _backend_slots
    _backend_slots = threading.BoundedSemaphore(max(1, limit))


scratch_dir = scratch.scratch_dir  # private, owner-checked (see mediagen.storage.scratch)


# -- stages --------------------------------------------------------------------


def generate(
    job: ImageJob, ctx: RunContext, backend: Backend | None = None, *, guarded: bool = True
) -> Generated:
    """Make the original (or find it in the bucket) and store it privately.

    ``backend``: an instance to call instead of this process's shared one (the
    Python API passes its client's, configured with the client's own key).
    ``guarded=False``: outside a run (the Python API), so the run's abort flag
    and budget ledger neither stop this call nor are touched by it.
    """
    bucket = bucket_for(ctx.bucket)
    started = time.perf_counter()
    sidecar_key = f"{job.original_key}.json"
    try:
        info = json.loads(bucket.get(sidecar_key))
        reused = Generated(**{**info, "reused": True, "seconds": time.perf_counter() - started})
        events.emit(job.id, "generated")
        return reused
    except FileNotFoundError:
        pass
    except (ValueError, TypeError):  # a sidecar that is not ours, or broken: make it anew
        logger.warning("image %s: unreadable original sidecar %s; generating again", job.id,
                       sidecar_key)  # fmt: skip
    # A generation whose upload failed (storage down longer than its retries) waits in
    # the scratch folder: the task's retry uploads it instead of paying the backend again.
    pending = scratch_dir() / f"{job.gen_key}.original"
    try:
        info, data = scratch.read_pending(pending)
    except (FileNotFoundError, ValueError):
        ledger = costs.Call(bucket, ctx.prefix, job.id, ctx.run_id, "image")
        try:
            if guarded:
                result = _call_backend(job, backend, ledger)
            else:
                with _backend_slots:
                    _open_if_paid(ledger, job)
                    result = (backend or backend_for(job.backend)).generate(job.request)
        except BaseException as exc:
            costs.settle(ledger, exc)
            if isinstance(exc, BlockedError):
                events.emit(job.id, "blocked")
            elif isinstance(
                exc, RunAbortedError | BudgetExceededError | PermanentError | ConfigurationError
            ):
                events.emit(job.id, "failed")  # final: no retry will follow
            raise
        try:
            # Checked before it is stored: a cached original is never asked for again.
            checked = check_answer(result.data)
        except BadAnswerError as exc:
            exc.cost_usd, exc.usage = result.cost_usd, result.usage  # paid, though unusable
            costs.settle(ledger, result)
            events.emit(job.id, "failed")
            raise
        info = {
            "original_key": f"{job.original_key}.{checked.extension}",
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
    events.emit(job.id, "generated")
    return Generated(**info, reused=False, seconds=time.perf_counter() - started)


def _call_backend(
    job: ImageJob, backend: Backend | None = None, ledger: costs.Call | None = None
) -> GenerationResult:
    """One backend call under the run's guards: not after an abort, not past the budget."""
    run_guard.check()
    backend_class = get_backend_class(job.backend)
    estimate = backend_class.estimate_cost(job.request, get_settings())
    with _backend_slots, run_guard.reserve(estimate, f"image {job.id!r}") as charge:
        run_guard.check()  # the run may have been aborted while this waited for a slot
        if ledger is not None and estimate > 0:
            ledger.open()  # paid calls only: the offline renderer costs nothing
        try:
            result = (backend or backend_for(job.backend)).generate(job.request)
        except (AuthError, ConfigurationError) as exc:
            # Every further call would be refused too: stop the run, say it once.
            run_guard.abort(str(exc))
            raise
        charge.settle(result.cost_usd)
    return result


def _open_if_paid(ledger: costs.Call, job: ImageJob) -> None:
    if get_backend_class(job.backend).estimate_cost(job.request, get_settings()) > 0:
        ledger.open()


def process(job: ImageJob, generated: Generated, ctx: RunContext) -> list[Processed]:
    """Produce every output file of the image into the scratch folder.

    The original is decoded and its focal-point crop placed once; the per-image
    facts (placeholders, colours, brand fit, alt text) are computed once, from a
    small preview; then each output (main formats and renditions) is encoded.
    Its decoded pixels (original + largest output) are held from the process's
    pixel budget meanwhile. An original that is unusable (stored unchecked by an
    older version) is removed, so the next run asks the backend again.
    """
    bucket = bucket_for(ctx.bucket)
    original = bucket.get(generated.original_key)
    try:
        checked = inspect_image(original)
    except BadAnswerError as exc:
        events.emit(job.id, "failed")
        raise _forget_original(job, generated, bucket, exc) from None
    largest = max(o.spec.width * o.spec.height for o in job.outputs)
    with pixel_budget.hold(checked.pixels + largest):
        return _process(job, generated, ctx, bucket, original)


def _forget_original(
    job: ImageJob, generated: Generated, bucket: Bucket, why: BaseException
) -> ProcessingError:
    # The sidecar goes first: without it the original is never reused.
    bucket.delete(f"{job.original_key}.json")
    bucket.delete(generated.original_key)
    return ProcessingError(
        f"the stored original is unusable ({short_reason(why)}); it was removed, "
        "and the next run asks the backend again"
    )


def _process(
    job: ImageJob, generated: Generated, ctx: RunContext, bucket: Bucket, original: bytes
) -> list[Processed]:
    provenance = Provenance(
        digital_source_type=digital_source_type(generated.ai_generated),
        prompt=job.prompt,
        model=generated.model,
        backend=generated.backend,
        generator=GENERATOR,
        image_id=job.id,
    )
    scratch = scratch_dir()
    out = []
    try:
        prepared = PreparedImage(original, job.request.width, job.request.height, job.focal_point)
    except ProcessingError as exc:
        events.emit(job.id, "failed")
        raise _forget_original(job, generated, bucket, exc) from None
    with prepared:
        with prepared.preview() as preview:
            facts = compute_facts(
                preview, job.request.brand_colors, job.brand_check, prepared.focus
            )
        alt = _alt_text(job, prepared, bucket, ctx)
        facts = replace(
            facts,
            alt_text=alt.text,
            alt_text_source=alt.source,
            alt_text_cost_usd=alt.cost_usd,
            alt_text_error=alt.error,
        )
        for output in job.outputs:
            started = time.perf_counter()
            try:
                image = prepared.render(output.spec, provenance, alt.text or "")
            except ProcessingError:
                events.emit(job.id, "failed")
                raise
            # Per published object: two images may share an out_key (one generation) yet
            # differ in their XMP (image id, alt text), so the out_key alone would collide.
            path = scratch / f"{output.out_key[:32]}-{canonical_hash(output.object_key)[:16]}"
            path = path.with_name(f"{path.name}.{EXTENSIONS[output.format]}")
            tmp = path.with_suffix(f".tmp-{os.getpid()}-{threading.get_ident()}")
            tmp.write_bytes(image.data)
            tmp.replace(path)
            out.append(
                Processed(
                    format=output.format,
                    out_key=output.out_key,
                    object_key=output.object_key,
                    path=str(path),
                    width=image.width,
                    height=image.height,
                    bytes=len(image.data),
                    sha256=image.sha256,
                    content_type=image.content_type,
                    seconds=time.perf_counter() - started,
                    facts=None if out else facts,
                )
            )
    return out


@dataclass(frozen=True)
class _Alt:
    text: str | None = None
    source: str | None = None  # "human" | "auto" | "fallback"
    cost_usd: float = 0.0  # of the describe call (from the cache when it was made earlier)
    error: str | None = None  # why a fallback text was used instead of the model's


def _alt_text(job: ImageJob, prepared: PreparedImage, bucket: Bucket, ctx: RunContext) -> _Alt:
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
        return _Alt()
    if not alt_text.is_auto(job.alt_text):
        return _Alt(job.alt_text, "human")
    backend = backend_for(job.backend)
    identity = {
        "gen": job.gen_key,
        "purpose": job.purpose,
        "backend": job.backend,
        "describe_model": backend.describe_model,
        "v": alt_text.DESCRIBE_VERSION,
    }
    cache_key = f"{job.original_key}.alt-{canonical_hash(identity)[:16]}.json"
    try:
        record = json.loads(bucket.get(cache_key))
        return _Alt(record["alt_text"], record.get("source", "auto"), record.get("cost_usd", 0.0))
    except FileNotFoundError:
        pass
    cache = True
    described = None
    error = None
    try:
        described = _describe(job, backend, prepared.describe_jpeg(), bucket, ctx)
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
    return _Alt(text, source, cost, error)


def _describe(
    job: ImageJob, backend: Backend, image: bytes, bucket: Bucket, ctx: RunContext
) -> Description:
    """One describe call under the run's guards, as :func:`_call_backend` for images."""
    run_guard.check()
    estimate = backend.estimate_describe_cost()
    ledger = costs.Call(bucket, ctx.prefix, job.id, ctx.run_id, "alt_text")
    with _backend_slots, run_guard.reserve(estimate, f"alt text of {job.id!r}") as charge:
        run_guard.check()
        if estimate > 0:
            ledger.open()
        try:
            described = backend.describe_with_usage(image, "image/jpeg", job.purpose, job.request)
        except BaseException as exc:
            costs.settle(ledger, exc)
            if isinstance(exc, AuthError | ConfigurationError):
                run_guard.abort(str(exc))
            raise
        paid = costs.Payment(described.model, "alt_text", described.cost_usd, described.usage)
        costs.settle(ledger, paid)
        charge.settle(described.cost_usd)
    return described


def upload(
    job: ImageJob, generated: Generated, processed: list[Processed], ctx: RunContext
) -> ImageEntry:
    """Publish every processed file; returns the image's manifest entry."""
    bucket = bucket_for(ctx.bucket)
    started = time.perf_counter()
    outputs = []
    # Hashed keys are content-addressed (present means identical, cache forever);
    # stable keys are overwritten in place, so they are always written and cached briefly.
    hashed = ctx.bucket.naming != "stable"
    for item in processed:
        path = Path(item.path)
        if not hashed or not bucket.exists(item.object_key):
            data = scratch.read_verified(path, item.sha256)
            for _ in range(3):
                if data is not None:
                    break
                # Another worker processed it (Dask, a retry elsewhere), or the file is not
                # what processing wrote: processing is deterministic, so redo it here.
                item = next(p for p in process(job, generated, ctx) if p.out_key == item.out_key)
                path = Path(item.path)
                data = scratch.read_verified(path, item.sha256)
            if data is None:
                raise ProcessingError(f"image {job.id!r}: its processed file keeps changing")
            bucket.put(
                item.object_key,
                data,
                content_type=item.content_type,
                cache_control=cache_control_for(immutable=hashed, public=ctx.bucket.public),
                metadata={
                    "image-id": job.id,
                    "gen-key": job.gen_key,
                    "out-key": item.out_key,
                    "model": generated.model,
                    "spec": ctx.spec_name,
                },
            )
        path.unlink(missing_ok=True)
        outputs.append(
            OutputEntry(
                format=item.format,
                key=item.object_key,
                url=bucket.url(item.object_key),
                width=item.width,
                height=item.height,
                bytes=item.bytes,
                sha256=item.sha256,
                content_type=item.content_type,
                out_key=item.out_key,
            )
        )
    facts = next((p.facts for p in processed if p.facts is not None), None)
    timings = {
        "generate_s": round(generated.seconds, 4),
        "process_s": round(sum(p.seconds for p in processed), 4),
        "upload_s": round(time.perf_counter() - started, 4),
    }
    if facts is not None:
        timings["facts_s"] = round(facts.seconds, 4)
    files = [PublishedFile(o.url, o.width, o.height, o.format) for o in outputs]
    events.emit(job.id, "published")
    first = outputs[0]
    web = web_fields(facts, files, job.picture_sizes, job.focal_point, job.facts_key)
    # What the image cost, whichever run paid: its original (see the sidecar) and alt text.
    cost = generated.cost_usd + web.get("alt_text_cost_usd", 0.0)
    return _entry(
        job,
        ctx,
        "ok",
        generated=generated,
        cost_usd=round(cost, 8),
        outputs=outputs,
        timings=timings,
        url=first.url,
        key=first.key,
        bytes=first.bytes,
        sha256=first.sha256,
        **web,
    )


def failed_entry(
    job: ImageJob,
    ctx: RunContext,
    error: BaseException | str,
    status: str = "failed",
    generated: Generated | None = None,
) -> ImageEntry:
    """The manifest entry of an image that could not be published.

    Status: ``blocked`` (safety refusal, with its reason and message),
    ``skipped`` (the budget ran out before it was made) or ``failed``.
    ``generated``: its original, when it failed after that was made (and paid for).
    """
    fields: dict[str, object] = {"generated": generated} if generated is not None else {}
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
    return _entry(job, ctx, status, error=short_reason(error), **fields)


def _entry(job: ImageJob, ctx: RunContext, status: str, **fields: object) -> ImageEntry:
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


# -- the manifest --------------------------------------------------------------


def finalize(
    ctx: RunContext,
    plan: Plan,
    results: dict[str, ImageEntry],
    previous: Manifest | None,
    budget_usd: float | None = None,
) -> Manifest:
    """Merge this run's results with the unchanged entries and write the manifest.

    The write is conditional (see :mod:`mediagen.manifest.commit`): if another run of
    the spec wrote the manifest meanwhile, its entries are merged in, not lost.
    """
    old = previous.images if previous else {}
    images: dict[str, ImageEntry] = {}
    for item in plan.items:
        if item.action == "unchanged":
            images[item.job.id] = old[item.job.id]
        else:
            images[item.job.id] = results[item.job.id]
    # Keys the spec no longer uses stay listed, so a later prune deletes exactly
    # what mediagen published and nothing else under the prefix.
    orphans = set(previous.orphaned_keys if previous else []) | keys_in_use(old.values())
    bucket = bucket_for(ctx.bucket)
    # Checked again at the end: another spec may have claimed the prefix during the run.
    claim = prefix_owner.Claim(ctx.prefix, ctx.spec_name, ctx.shared_prefix)
    state = prefix_owner.open_prefix(bucket, claim)
    # storage.public changed: objects already published follow it before the manifest says so.
    change = visibility.reconcile(
        bucket, previous, images, orphans, run_id=ctx.run_id, foreign=state.others_in_use()
    )
    ours = Manifest(
        spec_name=ctx.spec_name,
        spec_version=ctx.spec_version,
        spec_hash=ctx.spec_hash,
        run_id=ctx.run_id,
        storage={
            "provider": ctx.bucket.provider,
            "bucket": ctx.bucket.bucket,
            "prefix": ctx.prefix,
            "public": ctx.bucket.public,
            "naming": ctx.bucket.naming,
        },
        counts=count_images(images, {f"plan_{k}": v for k, v in plan.counts().items()}),
        **costs.manifest_fields(bucket_for(ctx.bucket), ctx.prefix, ctx.run_id, results, images),
        images=images,
        orphaned_keys=sorted(orphans - keys_in_use(images.values())),
        budget_usd=budget_usd,
        run_aborted=run_guard.aborted(),
        visibility_change=change or (previous.visibility_change if previous else None),
        shared_prefix=ctx.shared_prefix,
    )

    def build(current: Manifest | None) -> Manifest:
        merged = merge(previous, ours, current, touched=set(results), removed=set(plan.removed))
        return with_current_urls(merged, bucket)

    manifest = commit_manifest(bucket, ctx.prefix, build, spec=claim.own)
    write_gallery(bucket, ctx.prefix, manifest)
    prefix_owner.retire_moved(bucket, state)  # the manifest moved (shared <-> one owner)
    return manifest


def with_current_urls(manifest: Manifest, bucket: Bucket) -> Manifest:
    """Every URL in the form the bucket gives now: presigned ones signed anew, with
    their expiry stated; a change of CDN or base URL reaches old entries too."""
    signed_at = datetime.now(UTC)
    images = {}
    for image_id, entry in manifest.images.items():
        outputs = [o.model_copy(update={"url": bucket.url(o.key)}) for o in entry.outputs]
        update: dict[str, object] = {"outputs": outputs}
        if outputs:
            update["url"] = outputs[0].url
        images[image_id] = entry.model_copy(update=update)
    expiry = url_expiry(bucket, signed_at)  # a session token ends URLs with the session
    update = {"urls_expire_at": expiry.expires_at, "urls_expire_with_session": expiry.with_session,
              "session_expires_at": expiry.session_ends_at}  # fmt: skip
    return manifest.model_copy(update={"images": images, **update})


__all__ = [
    "Generated",
    "Processed",
    "RunContext",
    "bucket_for",
    "failed_entry",
    "finalize",
    "generate",
    "process",
    "upload",
]
