"""Stage 2 of an image: every output file, from the stored original, into the scratch folder.

The original is decoded and its focal-point crop placed once; the per-image facts
(placeholders, colours, brand fit, alt text) are computed once from a small
preview; then each output (main formats and renditions) is encoded. Processing is
deterministic, so a file that went missing (another worker, a retry elsewhere) is
simply made again. Decoded pixels are held from the process's pixel budget
(:mod:`mediagen.imaging.pixel_budget`: memory is per process, whatever runs share it).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

from mediagen._version import GENERATOR
from mediagen.engine.alt_text import alt_text_of
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.credentials import signer_for
from mediagen.engine.run import Run
from mediagen.errors import BadAnswerError, ProcessingError
from mediagen.imaging import pixel_budget
from mediagen.imaging.answer_check import inspect as inspect_image
from mediagen.imaging.codec import Provenance, digital_source_type
from mediagen.imaging.facts import compute_facts
from mediagen.imaging.renditions import PreparedImage
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob
from mediagen.plan.keys import canonical_hash
from mediagen.reasons import short_reason
from mediagen.spec.formats import EXTENSIONS
from mediagen.storage import scratch
from mediagen.storage.bucket import Bucket


def process(job: ImageJob, generated: Generated, ctx: RunContext, run: Run) -> list[Processed]:
    """Produce every output file of the image into the scratch folder.

    The original is decoded and its focal-point crop placed once; the per-image
    facts (placeholders, colours, brand fit, alt text) are computed once, from a
    small preview; then each output (main formats and renditions) is encoded.
    Its decoded pixels (original + largest output) are held from the process's
    pixel budget meanwhile. An original that is unusable (stored unchecked by an
    older version) is removed, so the next run asks the backend again.
    """
    bucket = run.bucket(ctx.bucket)
    original = bucket.get(generated.original_key)
    try:
        checked = inspect_image(original, run.settings)
    except BadAnswerError as exc:
        run.emit(job.id, "failed")
        raise _forget_original(job, generated, bucket, exc) from None
    largest = max(o.spec.width * o.spec.height for o in job.outputs)
    with pixel_budget.hold(checked.pixels + largest, run.settings.pixel_budget):
        return _process(job, generated, ctx, run, original)


def _forget_original(
    job: ImageJob, generated: Generated, bucket: Bucket, why: BaseException
) -> ProcessingError:
    # The sidecar goes first: without it the original is never reused.
    bucket.delete(keys.sidecar_key(job.original_key))
    bucket.delete(generated.original_key)
    return ProcessingError(
        f"the stored original is unusable ({short_reason(why)}); it was removed, "
        "and the next run asks the backend again"
    )


def _process(
    job: ImageJob, generated: Generated, ctx: RunContext, run: Run, original: bytes
) -> list[Processed]:
    bucket = run.bucket(ctx.bucket)
    provenance = Provenance(
        digital_source_type=digital_source_type(generated.ai_generated),
        prompt=job.prompt,
        model=generated.model,
        backend=generated.backend,
        generator=GENERATOR,
        image_id=job.id,
    )
    folder = scratch.scratch_dir(run.settings)
    signer = signer_for(job, generated, original, run.settings)  # C2PA; None: XMP only
    out = []
    try:
        prepared = PreparedImage(original, job.request.width, job.request.height, job.focal_point)
    except ProcessingError as exc:
        run.emit(job.id, "failed")
        raise _forget_original(job, generated, bucket, exc) from None
    with prepared:
        with prepared.preview() as preview:
            facts = compute_facts(
                preview, job.request.brand_colors, job.brand_check, prepared.focus
            )
        alt = alt_text_of(job, prepared, ctx, run)
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
                if signer is not None:  # before the file exists: nothing is uploaded unsigned
                    image = signer.sign(image, prepared)
            except ProcessingError:
                run.emit(job.id, "failed")
                raise
            # Per published object: two images may share an out_key (one generation) yet
            # differ in their XMP (image id, alt text), so the out_key alone would collide.
            path = folder / f"{output.out_key[:32]}-{canonical_hash(output.object_key)[:16]}"
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
                    signer=signer.subject if signer else None,
                )
            )
    return out


__all__ = ["process"]
