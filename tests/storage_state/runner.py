"""A spec run through the library's stages in this thread (no Prefect), as the flow does it:
the prefix is claimed and the previous manifest read, planned against, then finalized."""

from __future__ import annotations

import uuid
from typing import Any

from mediagen.engine import orchestrate
from mediagen.engine.context import RunContext
from mediagen.engine.run import Run
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
    with Run(settings) as run:
        bucket = run.bucket(BucketConfig.for_spec(job_spec, settings))
        return make_plan(jobs, open_prefix(bucket, claim_of(job_spec), jobs).previous, settings)


def run_spec(spec: dict[str, Any]) -> Manifest:
    settings = get_settings()
    job_spec = parse_spec(spec)
    claim = claim_of(job_spec)
    ctx = RunContext.for_spec(job_spec, settings, run_id=uuid.uuid4().hex)
    jobs = expand_spec(job_spec, settings)
    with ctx.new_run(settings) as run:
        previous = open_prefix(run.bucket(ctx.bucket), claim, jobs).previous
        plan = make_plan(jobs, previous, settings)
        return orchestrate.run_spec(plan, ctx, run, previous)
