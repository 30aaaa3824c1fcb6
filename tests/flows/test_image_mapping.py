"""How images map onto Prefect task runs: several images per task run, what the UI shows.

Real Prefect engine and test API, offline (counting) backend, local bucket. The
claims: a run with ``MEDIAGEN_IMAGES_PER_TASK`` images per task run makes fewer
task runs, each named after its images; one image failing never fails the others
of its task run; the task run of a failed image is Failed and names it; transient
failures are retried inside the task run without paying twice; an image that ends
unpublished sends one Prefect event (``mediagen.image.{status}``), related to its flow
run, and with ``MEDIAGEN_IMAGE_EVENTS=all`` every image does.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from flows.run import run_flow

pytestmark = pytest.mark.usefixtures("prefect_server")

IMAGES = [
    {"id": "a-good", "prompt": "a fine image"},
    {"id": "b-broken", "prompt": "something [[fail]]"},
    {"id": "c-flaky", "prompt": "something [[flaky]]"},
    {"id": "d-blocked", "prompt": "something [[blocked]]"},
    {"id": "e-good", "prompt": "another fine image"},
]


def _task_runs(run_id: str) -> dict[str, Any]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return {t.name: t for t in tasks}


def _image_events(spec: str, run_id: str, expected: int) -> list[Any]:
    """The run's image events as the API stored them (sent in the background: poll)."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventRelatedFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=30)
    event_filter = EventFilter(
        resource=EventResourceFilter(id_prefix=[f"mediagen.image.{spec}."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{run_id}"]),
    )
    deadline = time.monotonic() + 60  # did-not-hang bound: the API persists events async
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=50).events
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def test_several_images_per_task_run(workspace, counting, monkeypatch):
    monkeypatch.setenv("MEDIAGEN_IMAGES_PER_TASK", "2")
    monkeypatch.setenv("MEDIAGEN_IMAGE_EVENTS", "all")
    spec = {"name": "batched", "backend": "counting", "images": IMAGES}
    manifest = run_flow(spec)

    statuses = {i: e.status for i, e in manifest.images.items()}
    assert statuses == {
        "a-good": "ok", "b-broken": "failed", "c-flaky": "ok", "d-blocked": "blocked",
        "e-good": "ok",
    }  # fmt: skip
    calls = {p.split(".")[0]: n for p, n in counting.calls.items()}
    assert calls["something [[flaky]]"] == 3  # two transient failures, retried in its task run
    assert calls["something [[fail]]"] == 1 and calls["something [[blocked]]"] == 1
    assert calls["a fine image"] == 1 and calls["another fine image"] == 1

    tasks = _task_runs(manifest.run_id)
    makes = {n: t for n, t in tasks.items() if n.startswith("make-")}
    assert set(makes) == {"make-a-good..b-broken", "make-c-flaky..d-blocked", "make-e-good"}
    assert makes["make-e-good"].state.is_completed()
    first, second = makes["make-a-good..b-broken"].state, makes["make-c-flaky..d-blocked"].state
    assert first.is_failed() and "1 of 2 image(s) not published: b-broken failed" in first.message
    assert second.is_failed() and "d-blocked blocked" in second.message
    assert "c-flaky" not in second.message  # retried and published

    events = _image_events("batched", manifest.run_id, expected=len(IMAGES))
    seen = {e.resource.id.rsplit(".", 1)[1]: e.event for e in events}
    assert seen == {i: f"mediagen.image.{s}" for i, s in statuses.items()}
    broken = next(e for e in events if e.resource.id.endswith(".b-broken"))
    assert "scripted permanent" in broken.payload["error"]


def test_by_default_only_the_images_not_published_send_events(workspace, counting):
    spec = {"name": "eventful", "backend": "counting", "images": IMAGES}
    manifest = run_flow(spec)
    unpublished = {i: e.status for i, e in manifest.images.items() if e.status != "ok"}
    assert unpublished == {"b-broken": "failed", "d-blocked": "blocked"}

    events = _image_events("eventful", manifest.run_id, expected=len(unpublished))
    # Stored asynchronously: read again until two reads agree, then nothing else may be there.
    while len(again := _image_events("eventful", manifest.run_id, expected=0)) != len(events):
        events = again
    seen = {e.resource.id.rsplit(".", 1)[1]: e.event for e in events}
    assert seen == {i: f"mediagen.image.{s}" for i, s in unpublished.items()}


def test_one_task_run_per_image_by_default(workspace, counting):
    spec = {"name": "single", "backend": "counting", "images": IMAGES[:2]}
    manifest = run_flow(spec)
    makes = {n for n in _task_runs(manifest.run_id) if n.startswith("make-")}
    assert makes == {"make-a-good", "make-b-broken"}
    assert manifest.images["a-good"].status == "ok"
