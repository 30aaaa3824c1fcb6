"""One resolved image job and its run context, for tests of a single stage.

The job is what ``expand_spec`` makes of a one-image spec on the counting backend
(registered by the ``workspace`` fixture); the context is what the flow would build
for it. Plain helpers: each call builds them anew from the current settings.
"""

from __future__ import annotations

from typing import Any

from mediagen.engine.context import RunContext
from mediagen.plan.jobs import ImageJob, expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import BucketConfig

PLANT_SPEC: dict[str, Any] = {
    "name": "plant",
    "backend": "counting",
    "images": [{"id": "one", "prompt": "a jar of coins", "size": "thumbnail"}],
}


def the_job() -> tuple[ImageJob, RunContext]:
    spec = parse_spec(PLANT_SPEC)
    settings = get_settings()
    ctx = RunContext(
        spec_name=spec.name,
        spec_hash=spec.content_hash(),
        spec_version=spec.version,
        prefix=prefix_of(spec),
        bucket=BucketConfig.from_target(spec.storage, settings),
        run_id="test",
    )
    return expand_spec(spec, settings)[0], ctx
