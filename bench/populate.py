"""Fill a bucket the way a finished run leaves it, without Prefect (set-up only, not timed).

The no-op and processing benchmarks need a bucket where every image is
already published. Making it through the engine's orchestrator
(:func:`mediagen.engine.orchestrate.run_spec` on a thread pool, one
:class:`~mediagen.engine.run.Run`) gives the same objects and manifest a run
writes, minutes faster.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import Workspace
from mediagen.engine import orchestrate
from mediagen.engine.context import RunContext
from mediagen.manifest.model import read_manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import load_spec


def context(
    spec_path: Path, run_id: str = "bench-populate", concurrency: int | None = None
) -> tuple[RunContext, list[ImageJob]]:
    """The run context and jobs of a spec, in the current environment."""
    settings = get_settings()
    spec = load_spec(spec_path)
    ctx = RunContext.for_spec(spec, settings, run_id=run_id, concurrency=concurrency)
    return ctx, expand_spec(spec, settings)


def populate(ws: Workspace, spec_path: Path, threads: int = 8) -> int:
    """Generate, process and publish every image of the spec; write the manifest."""
    with ws.environ():
        ctx, jobs = context(spec_path, concurrency=threads)
        with ctx.new_run() as run:
            previous = read_manifest(run.bucket(ctx.bucket), ctx.prefix)
            plan = make_plan(jobs, previous, get_settings())
            orchestrate.run_spec(plan, ctx, run, previous, workers=threads)
    return len(plan.todo)
