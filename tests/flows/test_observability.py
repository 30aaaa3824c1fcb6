"""What a run shows in the Prefect UI: progress, the image table, thumbnails, links, logs."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.logging import get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.artifacts import ProgressReporter, summary_markdown
from flows.generate_media import generate_media
from mediagen.testing.s3 import S3TestServer
from tests.support.s3 import AWS_SECRET, body, s3_storage

pytestmark = pytest.mark.usefixtures("prefect_server")

CDN = "https://cdn.example.test/media"


def run_spec(spec: dict[str, Any]) -> UUID:
    state = generate_media.with_options(task_runner=ThreadPoolTaskRunner(max_workers=6))(
        spec=spec, return_state=True
    )
    return state.state_details.flow_run_id


def artifacts_of(run_id: UUID) -> dict[str, Any]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a for a in found}


def test_run_publishes_progress_table_thumbnails_and_links(
    workspace: Path, counting, caplog: pytest.LogCaptureFixture
) -> None:
    spec = {
        "name": "obs-demo",
        "backend": "counting",
        "storage": {"public_base_url": CDN},
        "defaults": {"size": "thumbnail", "formats": ["webp"]},
        "images": [
            {"id": "one", "prompt": "first [link](javascript:x) *bold*"},
            {"id": "two", "prompt": "second"},
            {"id": "bad", "prompt": "third [[fail]]"},
        ],
    }
    with caplog.at_level(logging.INFO, logger="prefect.flow_runs"):
        artifacts = artifacts_of(run_spec(spec))

    assert {
        "obs-demo-progress",
        "obs-demo-images",
        "obs-demo-summary",
        "obs-demo-manifest",
        "obs-demo-gallery",
    } <= set(artifacts)
    progress = artifacts["obs-demo-progress"]
    assert progress.type == "progress" and float(progress.data) == 100.0
    assert progress.description == "3 of 3 images finished, 1 failed or blocked"

    rows = {row["id"]: row for row in json.loads(artifacts["obs-demo-images"].data)}
    assert set(rows) == {"one", "two", "bad"}
    # The short columns first, in this order (the UI keeps it); the long URL after them.
    assert list(rows["one"]) == [
        "id", "status", "size", "format", "cost", "brand fit", "url", "model", "failure reason",
    ]  # fmt: skip
    assert rows["one"]["status"] == "ok" and rows["one"]["url"].startswith(f"{CDN}/obs-demo/one-")
    assert rows["one"]["size"] == "320x320" and rows["one"]["cost"] == "$0.0000"
    assert re.fullmatch(r"webp \d+(\.\d)? [KM]?B", rows["one"]["format"])
    assert rows["bad"]["status"] == "failed"
    assert "scripted permanent" in rows["bad"]["failure reason"]

    markdown = artifacts["obs-demo-summary"].data
    assert f'<img src="{rows["one"]["url"]}"' in markdown
    assert f'<img src="{rows["two"]["url"]}"' in markdown
    assert "`bad` failed" in markdown and "scripted permanent" in markdown
    assert (
        artifacts["obs-demo-manifest"].data
        == f"[obs-demo manifest.json]({CDN}/obs-demo/manifest.json)"
    )
    assert artifacts["obs-demo-gallery"].data == f"[obs-demo gallery]({CDN}/obs-demo/index.html)"
    assert (workspace / "bucket" / "obs-demo" / "index.html").is_file()

    # The flow's log says counts, cost and failures in plain sentences.
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs")
    assert "Plan for obs-demo: 3 new, 0 changed, 0 retry, 0 unchanged" in logs
    assert "3 of 3 images finished, 1 failed or blocked" in logs
    assert "Image bad failed: generate: PermanentError: scripted permanent failure" in logs
    assert "2 of 3 images published, 1 not; cost $0.0000" in logs


def test_private_bucket_shows_no_thumbnails(workspace: Path, counting) -> None:
    spec = {"name": "obs-private", "backend": "counting", "images": [{"id": "a", "prompt": "a"}]}
    artifacts = artifacts_of(run_spec(spec))

    markdown = artifacts["obs-private-summary"].data
    assert "<img" not in markdown and "MEDIAGEN_SUMMARY_THUMBNAIL_EXPIRY" in markdown
    assert artifacts["obs-private-gallery"].data.endswith("obs-private/index.html)")


def test_summary_markdown_keeps_spec_text_as_text(workspace: Path, counting) -> None:
    from mediagen.manifest.model import Manifest

    manifest = Manifest.model_validate(
        {
            "spec_name": "x", "spec_hash": "h",
            "counts": {"ok": 0, "images": 1, "blocked": 0, "failed": 1, "plan_new": 1,
                       "plan_changed": 0, "plan_retry": 0, "plan_unchanged": 0},
            "images": {"a": {
                "id": "a", "status": "failed", "width": 1, "height": 1, "format": "png",
                "prompt": "p", "subject": "p", "backend": "b", "model": "m", "theme": "t",
                "size": "s", "quality": "q", "gen_key": "k",
                "error": "<img src=x onerror=alert(1)> [click](javascript:alert(1))",
            }},
        }
    )  # fmt: skip
    from mediagen.engine.context import RunContext
    from mediagen.storage.bucket import BucketConfig

    ctx = RunContext("x", "h", "1", "x", BucketConfig("local", "/tmp/b"), "r")
    text = summary_markdown(ctx, manifest, "file:///tmp/b/x/manifest.json", "file:///g")
    assert "<img" not in text and "](javascript" not in text
    assert r"&lt;img src=x onerror=alert\(1\)&gt; \[click\]\(javascript:alert\(1\)\)" in text


def test_progress_artifact_is_updated_at_most_every_interval(workspace: Path) -> None:
    @flow(name="progress-probe")
    def probe() -> UUID:
        reporter = ProgressReporter("probe", total=100, logger=get_run_logger(), interval=3600)
        for _ in range(60):
            reporter.image_finished(ok=True)
        with get_client(sync_client=True) as client:
            mid = client.read_artifacts(
                artifact_filter=ArtifactFilter(id={"any_": [reporter.artifact_id]})
            )[0]
        assert float(mid.data) == 0.0  # sixty images, no update: the interval has not passed
        for _ in range(40):
            reporter.image_finished(ok=False)
        return reporter.artifact_id

    artifact_id = probe()
    with get_client(sync_client=True) as client:
        final = client.read_artifacts(artifact_filter=ArtifactFilter(id={"any_": [artifact_id]}))[0]
    assert float(final.data) == 100.0  # the last image always reports
    assert final.description == "100 of 100 images finished, 40 failed or blocked"


def test_private_s3_summary_shows_presigned_thumbnails_only_when_asked(
    s3: S3TestServer, counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [
        {"id": "a", "prompt": "a", "size": "thumbnail", "formats": ["png", "webp"]},
        {"id": "b", "prompt": "b", "size": "banner", "formats": ["jpeg"]},
    ]
    spec = {"name": "obs-s3", "backend": "counting", "storage": s3_storage(s3.endpoint_url),
            "images": images}  # fmt: skip
    default = artifacts_of(run_spec(spec))["obs-s3-summary"].data
    assert "<img" not in default and "X-Amz-" not in default  # off by default

    monkeypatch.setenv("MEDIAGEN_SUMMARY_THUMBNAIL_EXPIRY", "900")
    markdown = artifacts_of(run_spec(spec))["obs-s3-summary"].data  # unchanged images too

    assert counting.total() == 2
    assert "presigned URLs valid for 15 min (until " in markdown
    srcs = dict(re.findall(r'<img src="([^"]+)" width="\d+" alt="([^"]+)">', markdown))
    assert sorted(srcs.values()) == ["a", "b"]
    client = s3.client()
    manifest = json.loads(body(client, "obs-s3/manifest.json"))
    for src, image_id in srcs.items():
        assert "X-Amz-Expires=900" in src
        smallest = min(manifest["images"][image_id]["outputs"], key=lambda o: o["bytes"])
        with urllib.request.urlopen(src, timeout=10) as answer:  # a browser, without keys
            assert answer.read() == body(client, smallest["key"])
        with pytest.raises(urllib.error.HTTPError) as refused:  # the object stays private
            urllib.request.urlopen(src.split("?")[0], timeout=10)
        assert refused.value.code == 403
    assert AWS_SECRET not in markdown
