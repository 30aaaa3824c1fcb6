"""One call of the Python API → one image, made by the engine like a spec's images.

:func:`job_for` turns a call into a one-image spec, expanded like the flows expand
theirs (same presets, prompt composition and content-addressed keys,
``mediagen.plan.jobs``). :func:`make_image` has the engine's chain generate and
process it (:func:`mediagen.engine.orchestrate.make_files`: the original is stored
privately under ``_originals/{gen_key}``, so the same prompt and parameters twice
make one backend call, across processes and machines, and shared with the flows'
cache), then takes the processed file out of the scratch folder as a
:class:`~mediagen.client.results.GeneratedImage`. Publishing it is
:mod:`mediagen.client.publishing`'s business.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mediagen.backends import resolve_backend_name
from mediagen.client.config import ClientConfig
from mediagen.client.results import GeneratedImage
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.orchestrate import make_files
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.errors import ProcessingError, SpecError
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import StorageTarget, parse_spec
from mediagen.spec.vocabulary import Quality, Theme
from mediagen.storage import scratch

SizeArg = str | tuple[int, int] | Mapping[str, int]


def job_for(
    config: ClientConfig,
    settings: Settings,
    target: StorageTarget,
    prompt: str,
    *,
    size: SizeArg = "standard",
    quality: Quality | str = Quality.STANDARD,
    theme: Theme | str | None = None,
    brand: Sequence[str | Mapping[str, str]] | None = None,
    format: str = "png",
    finance_context: bool | None = None,
    constraints: Sequence[str] | None = None,
    seed: int | None = None,
    model: str | Sequence[str] | None = None,
    backend: str | None = None,
    image_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    delivery: str | None = None,
) -> ImageJob:
    """The call as a one-image spec, expanded like the flows expand theirs."""
    brand_config = config.brand
    if not isinstance(size, str | Mapping):
        width, height = size
        size = {"width": width, "height": height}
    image: dict[str, Any] = {
        "id": image_id or _slug(prompt),
        "prompt": prompt,
        "size": dict(size) if isinstance(size, Mapping) else size,
        "quality": str(quality),
        "theme": str(theme or brand_config.theme),
        "brand_colors": list(brand_config.colors if brand is None else brand),
        "formats": [format],
        "finance_context": (
            brand_config.finance_context if finance_context is None else finance_context
        ),
        "constraints": list(brand_config.constraints if constraints is None else constraints),
        "seed": seed,
        "model": list(model) if isinstance(model, list | tuple) else model,
        "metadata": dict(metadata or {}),
        "delivery": delivery,  # sync | flex (batch: a spec run's); None: sync
    }
    groups = config.backend_configs()  # the chosen backend's group may name a default model
    if image["model"] is None and any(group.model for group in groups.values()):
        chosen = groups.get(resolve_backend_name(backend, settings))
        image["model"] = chosen.model if chosen is not None else None
    spec = {
        "name": "api",
        "backend": backend,
        "storage": target.model_dump(),
        "images": [image],
    }
    try:
        job_spec = parse_spec(spec, source="MediaClient")
        return expand_spec(job_spec, settings)[0]
    except SpecError as exc:
        # Name the argument, not the inner spec's field path.
        problems = [p.replace("images[0].", "").replace("MediaClient: ", "") for p in exc.problems]
        raise SpecError("invalid image arguments", problems) from exc


def make_image(
    job: ImageJob, ctx: RunContext, run: Run, metadata: Mapping[str, Any] | None = None
) -> tuple[GeneratedImage, str]:
    """Generate (or take from the bucket) and process ``job``; returns the image and
    the object key the flows would publish it at."""
    # Single flight: concurrent identical calls in this process wait for the first
    # one's original instead of each paying the backend.
    with _single_flight(job.gen_key):
        generated, files = make_files(job, ctx, run)
    processed, data = _take_file(job, generated, files[0], ctx, run)
    request = job.request
    image = GeneratedImage(
        data=data,
        format=processed.format,
        content_type=processed.content_type,
        width=processed.width,
        height=processed.height,
        sha256=processed.sha256,
        prompt=job.prompt,
        backend=generated.backend,
        model=generated.model,
        ai_generated=generated.ai_generated,
        gen_key=job.gen_key,
        out_key=processed.out_key,
        image_id=job.id,
        original_key=generated.original_key,
        cached=generated.reused,
        cost_usd=0.0 if generated.reused else generated.cost_usd,
        usage=dict(generated.usage),
        seed=request.seed,
        theme=request.theme,
        size=job.size_name,
        quality=request.quality,
        metadata=dict(metadata or {}),
    )
    return image, processed.object_key


_flights: dict[str, tuple[threading.Lock, int]] = {}
_flights_lock = threading.Lock()


@contextlib.contextmanager
def _single_flight(key: str) -> Iterator[None]:
    # Process-wide on purpose: two clients asking for the same original share one call
    # (the bucket is shared too); the lock is dropped once nobody waits on it.
    with _flights_lock:
        lock, users = _flights.get(key, (threading.Lock(), 0))
        _flights[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _flights_lock:
            lock, users = _flights[key]
            if users == 1:
                del _flights[key]
            else:
                _flights[key] = (lock, users - 1)


def _take_file(
    job: ImageJob, generated: Generated, processed: Processed, ctx: RunContext, run: Run
) -> tuple[Processed, bytes]:
    """Take the processed file's bytes out of the scratch folder.

    Scratch files are named by out_key, so an identical call running at the same
    time (another thread or process) may take ours first: processing is
    deterministic, so we simply do it again.
    """
    for attempt in range(5):
        if attempt:
            processed = process(job, generated, ctx, run)[0]
        path = Path(processed.path)
        data = scratch.read_verified(path, processed.sha256)  # only what processing wrote
        if data is None:
            continue
        path.unlink(missing_ok=True)
        return processed, data
    raise ProcessingError(f"image {job.id!r}: its processed file kept disappearing from scratch")


def _slug(prompt: str) -> str:
    """A readable image id from the prompt: its first words, as a slug."""
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    slug = "-".join(words)[:40].strip("-")
    return slug or "image"


__all__ = ["SizeArg", "job_for", "make_image"]
