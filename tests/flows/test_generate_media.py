"""The generate-media flow on the real Prefect engine, offline backend, local bucket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows.run import run_flow
from mediagen.imaging.codec import read_provenance
from mediagen.storage.bucket import Bucket
from mediagen.storage.lease import LEASE_NAME

pytestmark = pytest.mark.usefixtures("prefect_server")


def make_spec(images: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "demo", "backend": "counting", "images": images, **extra}


IMAGES = [
    {"id": "sq", "prompt": "a square goal", "size": "thumbnail", "formats": ["png", "webp"]},
    {"id": "wide", "prompt": "a wide banner", "size": "social_landscape", "formats": ["jpeg"]},
    {
        "id": "odd",
        "prompt": "an odd size",
        "size": {"width": 333, "height": 77},
        "formats": ["avif"],
    },
]


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys written to any bucket (the real write still happens)."""
    written: list[str] = []
    real_put = Bucket.put

    def spy(self: Bucket, key: str, data: bytes, **kwargs: Any) -> None:
        written.append(key)
        real_put(self, key, data, **kwargs)

    monkeypatch.setattr(Bucket, "put", spy)
    return written


def bucket_path(workspace: Path, key: str) -> Path:
    return workspace / "bucket" / key


def image_keys(written: list[str]) -> list[str]:
    """Image objects only: not the manifest, the gallery, or the run's lease
    (mediagen.storage.lease)."""
    return [k for k in written if not k.endswith(("manifest.json", "index.html", LEASE_NAME))]


def test_first_run_publishes_exact_sizes_formats_and_manifest(workspace, counting, puts):
    manifest = run_flow(make_spec(IMAGES))

    assert manifest.counts["ok"] == 3
    assert counting.total() == 3
    expected = {("sq", "png"): (320, 320), ("sq", "webp"): (320, 320),
                ("wide", "jpeg"): (1200, 630), ("odd", "avif"): (333, 77)}  # fmt: skip
    seen = {}
    for entry in manifest.images.values():
        assert entry.status == "ok" and entry.backend == "counting"
        assert entry.prompt.startswith(entry.subject.rstrip(".") + ".")
        for out in entry.outputs:
            path = bucket_path(workspace, out.key)
            assert out.key.startswith(f"demo/{entry.id}-") and path.is_file()
            assert out.url == path.as_uri()
            with Image.open(path) as im:
                seen[(entry.id, out.format)] = im.size
                assert im.format.lower() == {"jpeg": "jpeg"}.get(out.format, out.format)
            assert path.stat().st_size == out.bytes
            assert read_provenance(path.read_bytes())["image_id"] == entry.id
    assert seen == expected
    on_disk = json.loads(bucket_path(workspace, "demo/manifest.json").read_text())
    assert set(on_disk["images"]) == {"sq", "wide", "odd"}
    # Originals are stored once per generation, before processing.
    assert len([k for k in puts if "/_originals/" in k and not k.endswith(".json")]) == 3


def test_second_run_makes_no_backend_calls_and_no_uploads(workspace, counting, puts):
    run_flow(make_spec(IMAGES))
    calls, written = counting.total(), len(puts)

    manifest = run_flow(make_spec(IMAGES))

    assert counting.total() == calls  # zero backend calls
    assert image_keys(puts[written:]) == []  # zero uploads, only the manifest rewritten
    assert manifest.counts["plan_unchanged"] == 3
    assert all(e.status == "ok" for e in manifest.images.values())


def test_changing_one_prompt_regenerates_exactly_that_image(workspace, counting, puts):
    run_flow(make_spec(IMAGES))
    before = dict(counting.calls)
    changed = [dict(IMAGES[0]), IMAGES[1], {**IMAGES[2], "prompt": "an odd size, reworded"}]
    written = len(puts)

    manifest = run_flow(make_spec(changed))

    new_calls = {p: n for p, n in counting.calls.items() if before.get(p) != n}
    assert len(new_calls) == 1 and "reworded" in next(iter(new_calls))
    uploaded = image_keys(puts[written:])
    assert [k for k in uploaded if "/_originals/" not in k] == [manifest.images["odd"].key]
    assert manifest.counts["plan_changed"] == 1 and manifest.counts["plan_unchanged"] == 2


def test_adding_a_format_reuses_the_original(workspace, counting, puts):
    run_flow(make_spec(IMAGES))
    calls = counting.total()
    more = [{**IMAGES[1], "formats": ["jpeg", "webp"]}, IMAGES[0], IMAGES[2]]
    written = len(puts)

    manifest = run_flow(make_spec(more))

    assert counting.total() == calls
    new_keys = image_keys(puts[written:])
    assert len(new_keys) == 1 and new_keys[0].endswith(".webp")
    assert [o.format for o in manifest.images["wide"].outputs] == ["jpeg", "webp"]


def test_lost_manifest_costs_no_backend_call(workspace, counting):
    run_flow(make_spec(IMAGES))
    calls = counting.total()
    bucket_path(workspace, "demo/manifest.json").unlink()

    manifest = run_flow(make_spec(IMAGES))

    assert counting.total() == calls  # originals in the bucket are the cache
    assert manifest.counts["ok"] == 3 and manifest.cost_usd == 0.0


def test_failures_are_isolated_recorded_and_not_retried(workspace, counting):
    images = [
        {"id": "good", "prompt": "a fine image"},
        {"id": "blocked", "prompt": "something [[blocked]]"},
        {"id": "broken", "prompt": "something [[fail]]"},
        {"id": "flaky", "prompt": "something [[flaky]]"},
    ]
    manifest = run_flow(make_spec(images))

    entries = manifest.images
    assert entries["good"].status == "ok" and entries["flaky"].status == "ok"
    assert entries["blocked"].status == "blocked"
    assert "IMAGE_SAFETY" in entries["blocked"].error
    assert entries["broken"].status == "failed"
    assert "generate" in entries["broken"].error and "scripted permanent" in entries["broken"].error
    calls = {p.split(".")[0]: n for p, n in counting.calls.items()}
    assert calls["something [[blocked]]"] == 1  # never retried
    assert calls["something [[fail]]"] == 1  # permanent: not retried
    assert calls["something [[flaky]]"] == 3  # two transient failures, then success
    assert manifest.counts == {**manifest.counts, "ok": 2, "blocked": 1, "failed": 1}
    on_disk = json.loads(bucket_path(workspace, "demo/manifest.json").read_text())
    assert on_disk["images"]["broken"]["status"] == "failed"

    # The next run retries only what did not publish.
    again = run_flow(make_spec(images))
    assert again.counts["plan_retry"] == 2 and again.counts["plan_unchanged"] == 2


def test_flow_state_names_and_artifacts(workspace, counting):
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
    )
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.generate_media import generate_media

    spec = make_spec([IMAGES[0], {"id": "bad", "prompt": "x [[fail]]"}], name="names-test")
    state = generate_media.with_options(task_runner=ThreadPoolTaskRunner(max_workers=4))(
        spec=spec, return_state=True
    )
    assert state.is_failed()  # one image failed: the run says so, after the manifest
    assert bucket_path(workspace, "names-test/manifest.json").is_file()

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        assert run.name == "names-test"
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
        # One task run per image, its whole chain inside (flows/image_tasks.py): the failed
        # image's task run is Failed and names why; the published one's is Completed.
        by_name = {t.name: t for t in tasks}
        assert {"make-sq", "make-bad"} <= set(by_name)
        assert not {n for n in by_name if n.startswith(("generate-", "process-", "upload-"))}
        assert by_name["make-sq"].state.is_completed()
        bad = by_name["make-bad"].state
        assert bad.is_failed() and "bad failed: generate:" in bad.message, bad.message
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["names-test-images"]))
        )
        assert artifacts and {row["id"] for row in json.loads(artifacts[0].data)} == {"sq", "bad"}
