"""Mapping (c) of benchmark 8: every image an *async* Prefect task on one event loop.

Not what mediagen ships (``bench/mapping.py`` says why): a flow of its own, run as
``python -m bench.mapping_async SPEC CONCURRENCY`` in the benchmark's workspace.
Each image is an async task run awaited on the flow's loop (no task-runner
thread); its chain runs in a thread pool of ``CONCURRENCY`` threads (the engine's
stages are blocking: the SDK, Pillow, fsspec), with the same engine and retries
as the shipped mapping. It plans and writes the manifest like ``mediagen run``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from mediagen.engine.context import RunContext
from mediagen.engine.finalize import finalize
from mediagen.engine.pool import make_image_retrying
from mediagen.manifest.model import ImageEntry
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.parse import load_spec


def main(spec_path: str, concurrency: int) -> None:
    settings = get_settings()
    job_spec = load_spec(spec_path)
    ctx = RunContext.for_spec(job_spec, settings, run_id=str(uuid.uuid4()), concurrency=concurrency)
    plan = make_plan(expand_spec(job_spec, settings), None, settings)
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="mediagen-image")

    with ctx.new_run(settings) as run:

        @task(name="make", cache_policy=NO_CACHE, persist_result=False)
        async def make(job: ImageJob) -> ImageEntry:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                pool, lambda: make_image_retrying(
                    job, ctx, run, retries=settings.task_retries,
                    base_delay=settings.retry_base_delay,
                ),
            )  # fmt: skip

        @flow(name="mapping-async", persist_result=False)
        async def mapping_async() -> dict[str, ImageEntry]:
            limit = asyncio.Semaphore(concurrency)

            async def one(job: ImageJob) -> ImageEntry:
                async with limit:
                    return await make.with_options(task_run_name=f"make-{job.id}")(job)

            entries = await asyncio.gather(*(one(job) for job in plan.todo))
            return {job.id: entry for job, entry in zip(plan.todo, entries, strict=True)}

        results = asyncio.run(mapping_async())
        manifest = finalize(ctx, plan, results, None, run)
    pool.shutdown()
    print(f"{manifest.counts['ok']} of {len(manifest.images)} images published")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
