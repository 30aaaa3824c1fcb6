"""Run the flow in this process and hand back the manifest (CLI and Python API)."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from flows.generate_media import generate_media
from mediagen.manifest import Manifest
from mediagen.settings import get_settings
from mediagen.spec import JobSpec, spec_from_any


def run_flow(spec: JobSpec | dict[str, Any] | str, concurrency: int | None = None) -> Manifest:
    """Run ``generate-media`` locally; returns the manifest it wrote (even with failures)."""
    job_spec = spec_from_any(spec)
    limit = concurrency or job_spec.concurrency or get_settings().concurrency
    # Three stages per image in flight; the backend itself is bounded to ``limit``.
    runner = ThreadPoolTaskRunner(max_workers=3 * limit + 2)
    state = generate_media.with_options(task_runner=runner)(
        spec=job_spec.model_dump(mode="json"), concurrency=limit, return_state=True
    )
    data = state.result(raise_on_failure=False)
    if isinstance(data, BaseException):
        raise data
    return Manifest.model_validate(data)
