"""The design benchmark 2 compares against: every image passes through Prefect's task cache.

No plan step: the same three stages per image, as Prefect tasks with
``cache_policy=INPUTS + TASK_SOURCE`` and persisted results, so a re-run of an
unchanged spec is answered by 3 × N cache hits instead of a diff of the
manifest. ``python -m bench.prefect_cache_variant SPEC`` prints one JSON line:
how many task bodies really ran (0 on a fully cached re-run).
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from mediagen.engine import guard as run_guard
from mediagen.engine import stages as pipeline
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob

_ran = 0
_lock = threading.Lock()


def _count() -> None:
    global _ran
    with _lock:
        _ran += 1


_cached: dict[str, Any] = {"cache_policy": INPUTS + TASK_SOURCE, "persist_result": True}


@task(name="generate", **_cached)
def generate_task(job: ImageJob, ctx: pipeline.RunContext) -> pipeline.Generated:
    _count()
    return pipeline.generate(job, ctx)


@task(name="process", **_cached)
def process_task(
    job: ImageJob, generated: pipeline.Generated, ctx: pipeline.RunContext
) -> list[pipeline.Processed]:
    _count()
    return pipeline.process(job, generated, ctx)


@task(name="upload", **_cached)
def upload_task(
    job: ImageJob,
    generated: pipeline.Generated,
    processed: list[pipeline.Processed],
    ctx: pipeline.RunContext,
) -> ImageEntry:
    _count()
    return pipeline.upload(job, generated, processed, ctx)


@flow(name="generate-media-task-cache", task_runner=ThreadPoolTaskRunner(max_workers=50))
def cached_flow(spec_path: str) -> int:
    from pathlib import Path

    from bench.populate import context

    run_guard.start_run()
    ctx, jobs = context(Path(spec_path))
    ctx = pipeline.RunContext(**{**ctx.__dict__, "run_id": "task-cache"})  # stable inputs
    futures = []
    for job in jobs:
        gen = generate_task.submit(job, ctx)
        proc = process_task.submit(job, gen, ctx)
        futures += [gen, proc, upload_task.submit(job, gen, proc, ctx)]
    wait(futures)
    return sum(f.state.is_completed() for f in futures)


if __name__ == "__main__":
    completed = cached_flow(sys.argv[1])
    print(json.dumps({"executed": _ran, "completed": completed}))
