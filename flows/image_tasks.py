"""The task run that makes images: each image's whole chain inside one task run.

How images map onto Prefect task runs (issue 15; measured in ``bench/mapping.py``):
one task run per image (``make-{id}``) while a run has up to 20 images, then
about 20 task runs with several images each (``make-{first}..{last}``; the
``MEDIAGEN_IMAGES_PER_TASK`` setting overrides). Inside, the engine makes each
image (generate → process → upload, :mod:`mediagen.engine.pool`) on a thread
pool, with its own retries of transient failures.

What the UI shows per image:
- the task run is Failed when one of its images failed or was blocked, its
  message naming them and why (the others of the task run are published);
- a Prefect event per image not published as it ends (``mediagen.image.failed``,
  ``.blocked``, ``.skipped``, ``.pending``; resource ``mediagen.image.{spec}.{id}``),
  related to the task and flow run by Prefect: the flow run's event feed, and
  automations can trigger on them. ``MEDIAGEN_IMAGE_EVENTS=all`` adds
  ``mediagen.image.ok`` for every published image: ~5 ms of CPU each between the
  run and its API, a sixth of what a thumbnail costs to make (bench/versus_peer.py);
- the progress artifact, and after the run the table of every image (``flows/artifacts.py``).

A task run in the flow's own process also reports each image to the flow as it
ends (:func:`reporting`): progress moves per image, and an interrupted run keeps
the images that finished even if others of the same task run are still at the backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.states import Failed

from flows import run_registry
from mediagen.engine.context import RunContext
from mediagen.engine.pool import make_batch
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob

Report = Callable[[ImageJob, ImageEntry], None]
FAILED = ("failed", "blocked")
MAX_NAMED = 5  # failed images named in a task run's state message

_lock = threading.Lock()
_reports: dict[str, Report] = {}  # run id -> the flow's per-image callback (this process)


class Entries(dict[str, ImageEntry]):
    """A task run's result: {image id: entry}, shown short where Prefect prints a state."""

    def __repr__(self) -> str:
        return f"<{len(self)} image entries>"


@contextmanager
def reporting(run_id: str, report: Report) -> Iterator[None]:
    """Task runs of ``run_id`` in this process call ``report(job, entry)`` per image."""
    with _lock:
        _reports[run_id] = report
    try:
        yield
    finally:
        with _lock:
            _reports.pop(run_id, None)


def report_for(run_id: str) -> Report | None:
    """The flow's per-image callback of ``run_id``, if that flow runs in this process."""
    with _lock:
        return _reports.get(run_id)


def batch_name(jobs: list[ImageJob]) -> str:
    """``make-{id}``, or ``make-{first}..{last}`` for several images."""
    if len(jobs) == 1:
        return f"make-{jobs[0].id}"
    return f"make-{jobs[0].id}..{jobs[-1].id}"


def wants_event(mode: str, status: str) -> bool:
    """Does an image that ended ``status`` send an event (``MEDIAGEN_IMAGE_EVENTS``)?"""
    return mode == "all" or (mode == "problems" and status != "ok")


def image_event(spec_name: str, entry: ImageEntry) -> None:
    """One Prefect event for an image that ended (no secret: the error is a short reason)."""
    payload: dict[str, Any] = {"status": entry.status, "cost_usd": entry.cost_usd}
    if entry.error:
        payload["error"] = entry.error
    if entry.url:
        payload["url"] = entry.url
    emit_event(
        event=f"mediagen.image.{entry.status}",
        resource={
            "prefect.resource.id": f"mediagen.image.{spec_name}.{entry.id}",
            "prefect.resource.name": entry.id,
            "mediagen.spec": spec_name,
        },
        payload=payload,
    )


def failure_message(entries: dict[str, ImageEntry]) -> str | None:
    """The state message of a task run whose images failed on their own, else None."""
    failed = [e for e in entries.values() if e.status in FAILED and not e.aborted]
    if not failed:
        return None
    named = "; ".join(f"{e.id} {e.status}: {e.error}" for e in failed[:MAX_NAMED])
    more = f"; and {len(failed) - MAX_NAMED} more" if len(failed) > MAX_NAMED else ""
    return f"{len(failed)} of {len(entries)} image(s) not published: {named}{more}"


@task(name="make", cache_policy=NO_CACHE, persist_result=False)
def make_task(jobs: list[ImageJob], ctx: RunContext) -> Any:
    """Make and publish ``jobs``; returns {image id: entry} (Failed if one failed)."""
    run = run_registry.run_for(ctx)
    settings = run.settings
    # Only plain module functions here: on Dask this task is pickled by value, and
    # what it names (a lock) must not travel with it.
    report = report_for(ctx.run_id)

    def ended(job: ImageJob, entry: ImageEntry) -> None:
        if wants_event(settings.image_events, entry.status):
            image_event(ctx.spec_name, entry)
        if report is not None:
            report(job, entry)

    entries = make_batch(
        jobs, ctx, run, workers=ctx.concurrency, retries=settings.task_retries,
        base_delay=settings.retry_base_delay, on_entry=ended,
    )  # fmt: skip
    message = failure_message(entries)
    # The state message names the failures (the task run's row, its log); the entries
    # go back to the flow either way.
    return Failed(message=message, data=Entries(entries)) if message else Entries(entries)


__all__ = [
    "batch_name",
    "failure_message",
    "image_event",
    "make_task",
    "reporting",
    "wants_event",
]
