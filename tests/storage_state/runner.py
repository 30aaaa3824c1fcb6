"""A spec run through the library's stages in this thread (no Prefect), as the flow does it:
the prefix is claimed and the previous manifest read, planned against, then finalized."""

from __future__ import annotations

import uuid
from typing import Any

from mediagen.engine import stages as pipeline
from mediagen.manifest.model import Manifest
from mediagen.manifest.prefix_owner import claim_of, open_prefix
from mediagen.plan.diff import Plan, make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import BucketConfig


def plan_spec(spec: dict[str, Any]) -> Plan:
    settings = get_settings()
    job_spec = parse_spec(spec)
    jobs = expand_spec(job_spec, settings)
    bucket = pipeline.bucket_for(BucketConfig.for_spec(job_spec, settings))
    return make_plan(jobs, open_prefix(bucket, claim_of(job_spec), jobs).previous, settings)


def run_spec(spec: dict[str, Any]) -> Manifest:
    settings = get_settings()
    job_spec = parse_spec(spec)
    claim = claim_of(job_spec)
    ctx = pipeline.RunContext(
        spec_name=job_spec.name,
        spec_hash=job_spec.content_hash(),
        spec_version=job_spec.version,
        prefix=claim.prefix,
        bucket=BucketConfig.for_spec(job_spec, settings),
        run_id=uuid.uuid4().hex,
        shared_prefix=claim.shared,
    )
    jobs = expand_spec(job_spec, settings)
    previous = open_prefix(pipeline.bucket_for(ctx.bucket), claim, jobs).previous
    plan = make_plan(jobs, previous, settings)
    results = {}
    for job in plan.todo:
        generated = pipeline.generate(job, ctx)
        processed = pipeline.process(job, generated, ctx)
        results[job.id] = pipeline.upload(job, generated, processed, ctx)
    return pipeline.finalize(ctx, plan, results, previous)
