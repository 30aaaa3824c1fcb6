"""``delivery: batch`` through the real Prefect engine, the real SDK and the local Batch API
server: every image published, at the batch price, from jobs that are never submitted twice."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from flows.run import run_flow
from mediagen.backends.gemini import pricing
from mediagen.backends.gemini.response import usage_of
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing import Fault
from mediagen.testing.batch_server import FakeBatchServer

pytestmark = pytest.mark.usefixtures("prefect_server")


def batch_spec(n: int, name: str = "monthly-goals", **extra: Any) -> dict[str, Any]:
    images = [{"id": f"goal-{i:02d}", "prompt": f"goal picture {i}: a jar of coins",
               "size": "thumbnail", "formats": ["webp"]} for i in range(n)]  # fmt: skip
    return {
        "name": name, "backend": "gemini", "images": images,
        "defaults": {"delivery": "batch"}, "batch": {"poll_seconds": 0.1}, **extra,
    }  # fmt: skip


def paid_at_batch_price(server: FakeBatchServer) -> float:
    """Half of each answered line's sync price × the usage the server reported."""
    return sum(0.5 * pricing.cost_usd(model, usage_of(usage)) for _, model, usage in server.answers)


def test_forty_images_publish_at_half_the_sync_price(batch_env: FakeBatchServer) -> None:
    batch_env.pending_s = 1.0
    manifest = run_flow(batch_spec(40))

    assert manifest.counts["ok"] == 40, manifest.counts
    assert batch_env.jobs_created == 1 and batch_env.lines_received == 40
    assert batch_env.gemini.requests == []  # not one sync call
    assert manifest.cost_usd == pytest.approx(paid_at_batch_price(batch_env), rel=1e-6)
    assert manifest.total_cost_usd == pytest.approx(manifest.cost_usd, rel=1e-6)
    full = sum(pricing.cost_usd(m, usage_of(u)) for _, m, u in batch_env.answers)
    assert manifest.cost_usd == pytest.approx(full / 2, rel=1e-6)
    job_spec = parse_spec(batch_spec(40))
    bucket = Bucket(BucketConfig.for_spec(job_spec, get_settings()))
    for entry in manifest.images.values():
        assert entry.cost_usd == pytest.approx(0.5 * pricing.cost_usd(entry.model, entry.usage))
        with Image.open(bucket.fs.open(bucket.path(entry.outputs[0].key))) as image:
            assert image.format == "WEBP" and image.size == (entry.width, entry.height)


def test_a_rerun_pays_nothing_and_asks_nothing(batch_env: FakeBatchServer) -> None:
    first = run_flow(batch_spec(3))
    again = run_flow(batch_spec(3))
    assert first.counts["ok"] == again.counts["ok"] == 3
    assert again.cost_usd == 0 and batch_env.jobs_created == 1


def test_sync_and_batch_images_in_one_spec(batch_env: FakeBatchServer) -> None:
    spec = batch_spec(3)
    spec["images"][0]["delivery"] = "sync"
    manifest = run_flow(spec)
    assert manifest.counts["ok"] == 3
    assert batch_env.lines_received == 2 and len(batch_env.gemini.image_requests) == 1


def test_blocked_lines_are_recorded_and_the_rest_published(batch_env: FakeBatchServer) -> None:
    batch_env.gemini.script(Fault.finish("IMAGE_SAFETY", "not this one"), match="picture 1:")
    manifest = run_flow(batch_spec(3))
    blocked = manifest.images["goal-01"]
    assert blocked.status == "blocked" and blocked.blocked_reason == "IMAGE_SAFETY"
    assert blocked.blocked_message == "not this one" and blocked.cost_usd > 0
    assert manifest.counts["ok"] == 2
    assert manifest.cost_usd == pytest.approx(paid_at_batch_price(batch_env), rel=1e-6)


@pytest.mark.parametrize(
    ("on_failure", "statuses", "jobs", "sync_calls"),
    [("retry", {"ok"}, 2, 0), ("sync", {"ok"}, 1, 2), ("fail", {"failed"}, 1, 0)],
)
def test_a_failed_job_follows_on_failure(
    batch_env: FakeBatchServer, on_failure: str, statuses: set[str], jobs: int, sync_calls: int
) -> None:
    batch_env.script_outcome("FAILED")
    spec = batch_spec(2, batch={"poll_seconds": 0.1, "on_failure": on_failure})
    manifest = run_flow(spec)
    assert {e.status for e in manifest.images.values()} == statuses
    assert batch_env.jobs_created == jobs
    assert len(batch_env.gemini.image_requests) == sync_calls
    if on_failure == "fail":
        assert all("ended FAILED" in (e.error or "") for e in manifest.images.values())
