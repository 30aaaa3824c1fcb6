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
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mediagen import events
from mediagen.backends import Backend, get_backend_class
from mediagen.errors import BlockedError, ProcessingError
from mediagen.imaging import EXTENSIONS, Provenance, digital_source_type
from mediagen.imaging import process_image as encode
from mediagen.jobs import ImageJob
from mediagen.manifest import ImageEntry, Manifest, OutputEntry
from mediagen.manifest_commit import commit_manifest, count_images, keys_in_use, merge
from mediagen.plan import Plan
from mediagen.settings import Settings, get_settings
from mediagen.storage import Bucket, BucketConfig, cache_control_for

GENERATOR = "mediagen 0.1.0"


@dataclass(frozen=True)
class RunContext:
    """What every stage needs to know about the run. No secrets, no clients."""

    spec_name: str
    spec_hash: str
    spec_version: str
    prefix: str
    bucket: BucketConfig
    run_id: str


@dataclass(frozen=True)
class Generated:
    """Reference to a stored original and how it was made."""

    original_key: str
    mime_type: str
    backend: str
    model: str
    ai_generated: bool
    usage: dict[str, int]
    cost_usd: float
    reused: bool  # True: found in the bucket, no backend call
    seconds: float


@dataclass(frozen=True)
class Processed:
    """Reference to one processed file waiting in the scratch folder."""

    format: str
    out_key: str
    object_key: str
    path: str
    width: int
    height: int
    bytes: int
    sha256: str
    content_type: str
    seconds: float


# -- per-process clients ------------------------------------------------------

_clients: dict[tuple[int, object], object] = {}
_clients_lock = threading.Lock()


def bucket_for(config: BucketConfig) -> Bucket:
    return _client((os.getpid(), config), lambda: Bucket(config))  # type: ignore[return-value]


def backend_for(name: str, settings: Settings | None = None) -> Backend:
    def build() -> Backend:
        return get_backend_class(name)(settings or get_settings())

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


def scratch_dir(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    base = settings.work_dir or Path(tempfile.gettempdir()) / "mediagen-work"
    base.mkdir(parents=True, exist_ok=True)
    return base


# -- stages --------------------------------------------------------------------


def generate(job: ImageJob, ctx: RunContext) -> Generated:
    """Make the original (or find it in the bucket) and store it privately."""
    bucket = bucket_for(ctx.bucket)
    started = time.perf_counter()
    sidecar_key = f"{job.original_key}.json"
    try:
        info = json.loads(bucket.get(sidecar_key))
        events.emit(job.id, "generated")
        return Generated(**{**info, "reused": True, "seconds": time.perf_counter() - started})
    except FileNotFoundError:
        pass
    # A generation whose upload failed (storage down longer than its retries) waits in
    # the scratch folder: the task's retry uploads it instead of paying the backend again.
    pending = scratch_dir() / f"{job.gen_key}.original"
    try:
        info = json.loads(pending.with_suffix(".json").read_text())
        data = pending.read_bytes()
    except (FileNotFoundError, ValueError):
        try:
            with _backend_slots:
                result = backend_for(job.backend).generate(job.request)
        except BlockedError:
            events.emit(job.id, "blocked")
            raise
        ext = {"image/jpeg": "jpg", "image/webp": "webp"}.get(result.mime_type, "png")
        info = {
            "original_key": f"{job.original_key}.{ext}",
            "mime_type": result.mime_type,
            "backend": result.backend,
            "model": result.model,
            "ai_generated": result.ai_generated,
            "usage": result.usage,
            "cost_usd": result.cost_usd,
        }
        data = result.data
        _write_atomically(pending, data)
        _write_atomically(pending.with_suffix(".json"), json.dumps(info).encode())
    original_key = info["original_key"]
    # Originals are never public: the bucket is their cache, not their shop window.
    bucket.put(original_key, data, content_type=info["mime_type"], public=False)
    # The sidecar goes last: its presence means the original is complete.
    bucket.put(
        sidecar_key, json.dumps(info).encode(), content_type="application/json", public=False
    )
    pending.unlink(missing_ok=True)
    pending.with_suffix(".json").unlink(missing_ok=True)
    events.emit(job.id, "generated")
    return Generated(**info, reused=False, seconds=time.perf_counter() - started)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_bytes(data)
    tmp.replace(path)


def process(job: ImageJob, generated: Generated, ctx: RunContext) -> list[Processed]:
    """Produce every output file of the image into the scratch folder."""
    original = bucket_for(ctx.bucket).get(generated.original_key)
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
    for output in job.outputs:
        started = time.perf_counter()
        try:
            image = encode(original, output.spec, provenance)
        except ProcessingError:
            events.emit(job.id, "failed")
            raise
        path = scratch / f"{output.out_key}.{EXTENSIONS[output.format]}"
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
            )
        )
    return out


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
            if not path.exists():
                # Another worker processed it (Dask, a retry elsewhere): processing is
                # deterministic, so redo it here rather than fail.
                item = next(p for p in process(job, generated, ctx) if p.out_key == item.out_key)
                path = Path(item.path)
            bucket.put(
                item.object_key,
                path.read_bytes(),
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
    timings = {
        "generate_s": round(generated.seconds, 4),
        "process_s": round(sum(p.seconds for p in processed), 4),
        "upload_s": round(time.perf_counter() - started, 4),
    }
    events.emit(job.id, "published")
    first = outputs[0]
    return _entry(
        job,
        ctx,
        "ok",
        generated=generated,
        outputs=outputs,
        timings=timings,
        url=first.url,
        key=first.key,
        bytes=first.bytes,
        sha256=first.sha256,
    )


def failed_entry(job: ImageJob, ctx: RunContext, error: BaseException | str) -> ImageEntry:
    """The manifest entry of an image that could not be published."""
    status = "blocked" if isinstance(error, BlockedError) else "failed"
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return _entry(job, ctx, status, error=message)


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
            "cost_usd": 0.0 if generated.reused else generated.cost_usd,
        }
    return ImageEntry.model_validate(data | fields)


# -- the manifest --------------------------------------------------------------


def finalize(
    ctx: RunContext, plan: Plan, results: dict[str, ImageEntry], previous: Manifest | None
) -> Manifest:
    """Merge this run's results with the unchanged entries and write the manifest.

    The write is conditional (see :mod:`mediagen.manifest_commit`): if another run of
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
        cost_usd=round(sum(r.cost_usd for r in results.values()), 6),
        images=images,
        orphaned_keys=sorted(orphans - keys_in_use(images.values())),
    )
    bucket = bucket_for(ctx.bucket)

    def build(current: Manifest | None) -> Manifest:
        merged = merge(previous, ours, current, touched=set(results), removed=set(plan.removed))
        return with_current_urls(merged, bucket)

    return commit_manifest(bucket, ctx.prefix, build)


def with_current_urls(manifest: Manifest, bucket: Bucket) -> Manifest:
    """Every URL in the form the bucket gives now: presigned ones signed anew, with
    their expiry stated; a change of CDN or base URL reaches old entries too."""
    expiry = bucket.config.presign_expiry if not bucket.config.public else None
    signed_at = datetime.now(UTC)
    images = {}
    for image_id, entry in manifest.images.items():
        outputs = [o.model_copy(update={"url": bucket.url(o.key)}) for o in entry.outputs]
        update: dict[str, object] = {"outputs": outputs}
        if outputs:
            update["url"] = outputs[0].url
        images[image_id] = entry.model_copy(update=update)
    expires = signed_at + timedelta(seconds=expiry) if expiry and not bucket.local else None
    return manifest.model_copy(update={"images": images, "urls_expire_at": expires})


def summary_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One row per image, for tables (CLI, Prefect artifact)."""
    return [
        {
            "id": e.id,
            "status": e.status,
            "url": e.url or "",
            "size": f"{e.width}x{e.height}",
            "bytes": e.bytes or 0,
            "model": e.model,
            "cost_usd": e.cost_usd,
            "error": e.error or "",
        }
        for e in manifest.images.values()
    ]


__all__ = [
    "Generated",
    "Processed",
    "RunContext",
    "bucket_for",
    "failed_entry",
    "finalize",
    "generate",
    "process",
    "summary_rows",
    "upload",
]
