"""Run a spec through the engine's orchestrator in this thread: no Prefect, for library tests."""

from __future__ import annotations

from typing import Any

from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec


def run_locally(spec: dict[str, Any]) -> Manifest:
    settings = get_settings()
    job_spec = parse_spec(spec)
    ctx = RunContext.for_spec(job_spec, settings, run_id="local")
    plan = make_plan(expand_spec(job_spec, settings), None, settings)
    with ctx.new_run(settings) as run:
        return run_spec(plan, ctx, run)
