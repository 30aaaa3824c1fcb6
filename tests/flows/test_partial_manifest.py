"""The manifest a stopped run leaves: what the flow's on_cancellation / on_crashed hook
writes when the run's own process could not (killed by a worker, crashed).

Real parts: the real google-genai SDK against the local Gemini server (calls
counted there), a local bucket, the real Prefect engine for the resumed run.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from flows.partial import write_pending_manifest
from flows.run import run_flow
from mediagen.engine.context import RunContext
from mediagen.engine.generate import generate
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.testing import FakeGeminiServer

pytestmark = pytest.mark.usefixtures("prefect_server")

SPEC = {
    "name": "killed",
    "backend": "gemini",
    "images": [
        {"id": f"img-{n}", "prompt": f"a savings jar number {n}", "size": "thumbnail"}
        for n in range(4)
    ],
}


def test_a_run_killed_mid_way_is_recorded_pending_and_resumes_without_paying_twice(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    job_spec = parse_spec(SPEC)
    jobs = expand_spec(job_spec, get_settings())
    # The killed run got as far as storing two originals (paid for), nothing more.
    ctx = RunContext.for_spec(job_spec, get_settings(), run_id="run-that-was-killed")
    with ctx.new_run() as run:
        for job in jobs[:2]:
            generate(job, ctx, run)
    assert len(gemini_env.image_requests) == 2

    manifest = write_pending_manifest(job_spec, "run-that-was-killed", "run crashed")
    assert manifest is not None and manifest.run_id == "run-that-was-killed"
    assert {e.status for e in manifest.images.values()} == {"pending"}
    assert manifest.counts["pending"] == 4
    stored = json.loads((workspace / "bucket/killed/manifest.json").read_text())
    assert stored["run_id"] == "run-that-was-killed"
    assert (workspace / "bucket/killed/index.html").is_file()
    # Called again (the on_crashed hook after on_cancellation, a second worker): no-op.
    assert write_pending_manifest(job_spec, "run-that-was-killed", "run crashed") is None

    resumed = run_flow(SPEC, concurrency=2)
    assert resumed.counts["ok"] == 4 and resumed.counts["plan_retry"] == 4
    prompts = Counter(r.prompt for r in gemini_env.image_requests)
    assert sum(prompts.values()) == 4 and max(prompts.values()) == 1  # none asked twice
