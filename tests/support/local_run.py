"""Run a spec through the library's stages in this thread: no Prefect, for library tests."""

from __future__ import annotations

from typing import Any

from mediagen.engine import stages as pipeline
from mediagen.errors import MediagenError
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import BucketConfig


def run_locally(spec: dict[str, Any]) -> Manifest:
    settings = get_settings()
    job_spec = parse_spec(spec)
    ctx = pipeline.RunContext(
        spec_name=job_spec.name,
        spec_hash=job_spec.content_hash(),
        spec_version=job_spec.version,
        prefix=prefix_of(job_spec),
        bucket=BucketConfig.from_target(job_spec.storage, settings),
        run_id="local",
    )
    plan = make_plan(expand_spec(job_spec, settings), None, settings)
    results = {}
    for job in plan.todo:
        try:
            generated = pipeline.generate(job, ctx)
            processed = pipeline.process(job, generated, ctx)
            results[job.id] = pipeline.upload(job, generated, processed, ctx)
        except MediagenError as exc:
            results[job.id] = pipeline.failed_entry(job, ctx, exc)
    return pipeline.finalize(ctx, plan, results, None)
