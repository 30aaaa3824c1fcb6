"""Fill a bucket the way a finished run leaves it, without Prefect (set-up only, not timed).

The no-op and processing benchmarks need a bucket where every image is
already published. Making it through the library's own stages (in a thread
pool) gives the same objects and manifest a run writes, minutes faster.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.harness import Workspace
from mediagen.engine import guard as run_guard
from mediagen.engine import ratelimit
from mediagen.engine import stages as pipeline
from mediagen.manifest.model import read_manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import load_spec
from mediagen.storage.bucket import BucketConfig


def context(spec_path: Path) -> tuple[pipeline.RunContext, list[ImageJob]]:
    """The run context and jobs of a spec, in the current environment."""
    settings = get_settings()
    spec = load_spec(spec_path)
    ctx = pipeline.RunContext(
        spec.name, spec.content_hash(), spec.version, prefix_of(spec),
        BucketConfig.from_target(spec.storage, settings), "bench-populate",
    )  # fmt: skip
    return ctx, expand_spec(spec, settings)


def populate(ws: Workspace, spec_path: Path, threads: int = 8) -> int:
    """Generate, process and publish every image of the spec; write the manifest."""
    with ws.environ():
        pipeline.reset_clients()
        ratelimit.configure(None)
        run_guard.start_run()
        pipeline.set_concurrency(threads)
        ctx, jobs = context(spec_path)
        bucket = pipeline.bucket_for(ctx.bucket)
        plan = make_plan(jobs, read_manifest(bucket, ctx.prefix), get_settings())

        def one(job: ImageJob):  # type: ignore[no-untyped-def]
            gen = pipeline.generate(job, ctx)
            return job.id, pipeline.upload(job, gen, pipeline.process(job, gen, ctx), ctx)

        with ThreadPoolExecutor(threads) as pool:
            results = dict(pool.map(one, plan.todo))
        pipeline.finalize(ctx, plan, results, read_manifest(bucket, ctx.prefix))
        pipeline.reset_clients()
    return len(results)
