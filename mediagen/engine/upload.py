"""Stage 3 of an image: publish its processed files; the result is its manifest entry.

Hashed keys are content-addressed (present means identical, cached forever);
stable keys are overwritten in place, so they are always written and cached
briefly. A processed file that is missing or not what processing wrote is made
again (processing is deterministic) rather than published wrong.
"""

from __future__ import annotations

import time
from pathlib import Path

from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.entries import entry
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.errors import ProcessingError
from mediagen.imaging.facts import web_fields
from mediagen.imaging.renditions import PublishedFile
from mediagen.manifest.model import ImageEntry, OutputEntry
from mediagen.plan.jobs import ImageJob
from mediagen.storage import scratch
from mediagen.storage.bucket import cache_control_for


def upload(
    job: ImageJob, generated: Generated, processed: list[Processed], ctx: RunContext, run: Run
) -> ImageEntry:
    """Publish every processed file; returns the image's manifest entry."""
    bucket = run.bucket(ctx.bucket)
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
                item = next(
                    p for p in process(job, generated, ctx, run) if p.out_key == item.out_key
                )
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
                signed=item.signer is not None,
                signer=item.signer,
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
    run.emit(job.id, "published")
    first = outputs[0]
    web = web_fields(facts, files, job.picture_sizes, job.focal_point, job.facts_key)
    # What the image cost, whichever run paid: its original (see the sidecar) and alt text.
    cost = generated.cost_usd + web.get("alt_text_cost_usd", 0.0)
    return entry(
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


__all__ = ["upload"]
