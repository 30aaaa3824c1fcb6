"""Many images in one unit of work: each image's chain, retried, on a bounded thread pool.

Why this exists (issue 15, ``bench/mapping.py``): a Prefect task run costs ~8 ms of
bookkeeping under the GIL, so three task runs per image (generate → process →
upload) capped a run at ~19 images/s whatever the concurrency. The flow now runs
each image's whole chain inside one task run, with the :class:`Direct` executor,
and a large run puts several images in one task run (:func:`images_per_task`).
What the three task runs gave stays:

- retries: :func:`make_image_retrying` retries an image's chain when a stage
  failed with a transient error (the backend and the bucket retry on their own
  first); the bucket is the cache, so a retry never pays for an answer twice;
- failure isolation: an image's failure is recorded in its entry, never raised,
  so one image never fails the others of its unit;
- per-image reporting: ``on_entry`` hears each image as it finishes (the flow's
  progress, its per-image events, its partial manifest after an interrupt).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from mediagen.engine.context import RunContext
from mediagen.engine.entries import failed_entry
from mediagen.engine.orchestrate import Direct, chain
from mediagen.engine.outcomes import StageState, image_outcome
from mediagen.engine.run import Run
from mediagen.errors import MediagenError, TransientError, TransientStorageError
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob

logger = logging.getLogger(__name__)

# Auto mapping: one task run per image up to AUTO_TASK_RUNS images (a row per image in
# the Prefect UI), then that many task runs, with several images each. A task run costs
# ~37 ms of CPU between the run and its Prefect API (its creation and three states),
# more than a thumbnail's own processing: 100 task runs of 10 images made a 1,000-image
# run 30 % more CPU than 20 of 50 (bench/versus_peer.py, issue 15).
AUTO_TASK_RUNS = 20
TRANSIENT = (TransientError, TransientStorageError, ConnectionError, TimeoutError)

OnEntry = Callable[[ImageJob, ImageEntry], None]


def images_per_task(count: int, setting: int = 0) -> int:
    """Images per task run for a run of ``count`` images (``setting`` 0: automatic)."""
    if setting > 0:
        return setting
    return max(1, math.ceil(count / AUTO_TASK_RUNS))


def batches(jobs: Sequence[ImageJob], size: int) -> list[list[ImageJob]]:
    """``jobs`` in order, ``size`` at a time."""
    size = max(1, size)
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def retry_delays(retries: int, base: float) -> list[float]:
    """Exponential, with jitter per image, so a storm of 429s does not come back in step."""
    return [round(base * 2**i * random.uniform(1.0, 1.5), 3) for i in range(retries)]


def _transient(states: list[StageState]) -> bool:
    failed = next((s for s in states if s.failed), None)
    return failed is not None and isinstance(failed.error, TRANSIENT)


def make_image_retrying(
    job: ImageJob, ctx: RunContext, run: Run, *, retries: int = 0, base_delay: float = 1.0
) -> ImageEntry:
    """Make and publish one image; a chain that failed transiently runs again after a
    backoff (what is in the bucket already is reused). Never raises for the image's
    own failure: it is recorded in the entry."""
    delays = retry_delays(retries, base_delay)
    while True:
        states = chain(job, ctx, Direct(run))
        if not delays or not _transient(states) or run.interrupted or run.aborted:
            _log_failure(job, states)
            return image_outcome(job, ctx, states)
        try:
            run.sleep(delays.pop(0))
        except MediagenError:
            # The run stopped during the wait: one more pass records how (its generate
            # step refuses the backend call and says pending / aborted).
            return image_outcome(job, ctx, chain(job, ctx, Direct(run)))


def _log_failure(job: ImageJob, states: list[StageState]) -> None:
    """The failed stage's traceback, at INFO: ``-v`` shows it, the one-line summary is the
    entry's error. (With a task run per stage, Prefect logged it; now the stages run
    inside one task run, so the engine does.)"""
    failed = next((s for s in states if s.failed and s.error is not None), None)
    if failed is not None:
        logger.info("image %s: a stage failed", job.id, exc_info=failed.error)


def make_batch(
    jobs: Sequence[ImageJob],
    ctx: RunContext,
    run: Run,
    *,
    workers: int,
    retries: int = 0,
    base_delay: float = 1.0,
    on_entry: OnEntry | None = None,
) -> dict[str, ImageEntry]:
    """Make every job's image, ``workers`` at a time; ``on_entry`` hears each as it ends.

    One image's error (even an unexpected one) becomes its failed entry, never the
    batch's.
    """

    def one(job: ImageJob) -> ImageEntry:
        try:
            entry = make_image_retrying(job, ctx, run, retries=retries, base_delay=base_delay)
        except Exception as exc:  # a bug in one image must not lose the others' results
            entry = failed_entry(job, ctx, exc)
        if on_entry is not None:
            with contextlib.suppress(Exception):  # reporting must never fail an image
                on_entry(job, entry)
        return entry

    if len(jobs) <= 1 or workers <= 1:
        return {job.id: one(job) for job in jobs}
    out: dict[str, ImageEntry] = {}
    with ThreadPoolExecutor(min(workers, len(jobs)), thread_name_prefix="mediagen-image") as pool:
        # Each image's thread gets a copy of the caller's context: a Prefect task's run
        # context (its logger, the events it relates to its task and flow run) included.
        futures = {pool.submit(contextvars.copy_context().run, one, job): job for job in jobs}
        for future in as_completed(futures):
            out[futures[future].id] = future.result()
    return {job.id: out[job.id] for job in jobs}


__all__ = [
    "AUTO_TASK_RUNS",
    "batches",
    "images_per_task",
    "make_batch",
    "make_image_retrying",
    "retry_delays",
]
