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

from mediagen.engine import orchestrate
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob

_ran = 0
_lock = threading.Lock()
_runs: dict[str, Run] = {}  # this script's one run, by run id (tasks take picklable values)


def _count() -> None:
    global _ran
    with _lock:
        _ran += 1


def _run(ctx: RunContext) -> Run:
    with _lock:
        return _runs.setdefault(ctx.run_id, ctx.new_run())


_cached: dict[str, Any] = {"cache_policy": INPUTS + TASK_SOURCE, "persist_result": True}


@task(name="generate", **_cached)
def generate_task(job: ImageJob, ctx: RunContext) -> Generated:
    _count()
    return orchestrate.STAGE_FUNCTIONS["generate"](job, ctx, _run(ctx))


@task(name="process", **_cached)
def process_task(job: ImageJob, generated: Generated, ctx: RunContext) -> list[Processed]:
    _count()
    return orchestrate.STAGE_FUNCTIONS["process"](job, generated, ctx, _run(ctx))


@task(name="upload", **_cached)
def upload_task(
    job: ImageJob, generated: Generated, processed: list[Processed], ctx: RunContext
) -> ImageEntry:
    _count()
    return orchestrate.STAGE_FUNCTIONS["upload"](job, generated, processed, ctx, _run(ctx))


TASKS = {"generate": generate_task, "process": process_task, "upload": upload_task}


@flow(name="generate-media-task-cache", task_runner=ThreadPoolTaskRunner(max_workers=50))
def cached_flow(spec_path: str) -> int:
    from pathlib import Path

    from bench.populate import context

    ctx, jobs = context(Path(spec_path), run_id="task-cache")  # stable inputs
    futures = []
    for job in jobs:
        futures += orchestrate.chain(job, ctx, lambda stage, *args: TASKS[stage].submit(*args))
    wait(futures)
    return sum(f.state.is_completed() for f in futures)


if __name__ == "__main__":
    completed = cached_flow(sys.argv[1])
    print(json.dumps({"executed": _ran, "completed": completed}))
