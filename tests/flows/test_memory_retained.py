"""What a run keeps in memory (issue 15: peak RSS at 10,000 images, ``bench/memory.py``).

Real Prefect engine and test API, offline renderer, local bucket. The claims:

- while the manifest is written, the flow's process holds each image's entry once
  (no copy per image for URLs that did not change), and no Prefect object per image:
  with the same number of task runs, a run of four times the images holds about
  the same number of Prefect objects (futures, states, results; sent events are
  kept by Prefect's events client up to a fixed count, so they are left out);
- once ``run_flow`` has returned and the caller drops the manifest, nothing of the
  run's images is left: a process that runs flow after flow does not grow.

Counts, not bytes: object counts do not depend on the machine's allocator or load.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections import Counter
from typing import Any

import pytest

import flows.generate_media  # noqa: F401  (the module: the package exports the flow by its name)
from flows.run import run_flow
from mediagen.engine.finalize import finalize
from mediagen.manifest.model import ImageEntry

pytestmark = pytest.mark.usefixtures("prefect_server")

TASK_RUNS = 4  # both sizes: the same number of task runs, so per-task-run objects cancel out


def _spec(name: str, count: int) -> dict[str, Any]:
    return {
        "name": name,
        "max_images": count,
        "defaults": {"size": "32x32", "formats": ["webp"]},
        "images": [{"id": "img-{n}", "prompt": "a calm picture, number {n}",
                    "matrix": {"n": list(range(count))}}],
    }  # fmt: skip


# The events client keeps up to 700 events it sent until the server confirms them
# (checkpoint_every in prefect/events/clients.py): bounded, whatever the run's size.
EVENT_MODULES = ("prefect.events", "prefect.types")


def _prefect_kind(kind: type) -> bool:
    module = str(getattr(kind, "__module__", ""))
    return module.startswith("prefect") and not module.startswith(EVENT_MODULES)


def _live_at_finalize(monkeypatch: pytest.MonkeyPatch, name: str, count: int) -> Counter[str]:
    """Live objects by kind at the moment the run's manifest is finalized."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    module = sys.modules["flows.generate_media"]
    seen: dict[str, Counter[str]] = {}

    def counting(ctx: Any, *args: Any) -> Any:
        for worker in (EventsWorker, APILogWorker):  # queued to send is not retained
            worker.drain_all(timeout=30)
        gc.collect()
        kinds: Counter[str] = Counter()
        for obj in gc.get_objects():
            kind = type(obj)
            if kind is ImageEntry:
                kinds["ImageEntry"] += obj.run_id == ctx.run_id  # this run's
            elif _prefect_kind(kind):
                kinds["prefect"] += 1
        seen["counts"] = kinds
        return finalize(ctx, *args)

    monkeypatch.setattr(module, "finalize", counting)
    monkeypatch.setenv("MEDIAGEN_IMAGES_PER_TASK", str(count // TASK_RUNS))
    manifest = run_flow(_spec(name, count), concurrency=4)
    assert manifest.counts["ok"] == count
    return seen["counts"]


def test_no_object_per_image_beyond_its_entry(workspace, monkeypatch):
    few, many = 12, 48
    # Each run leaves a few dozen of Prefect's objects behind in this process (its task
    # runner, states): counted once more at each run, whatever its size. The runs before
    # `few` and `many` are alike (first, then few), so that part cancels out.
    first = _live_at_finalize(monkeypatch, "retained-first", few)
    small = _live_at_finalize(monkeypatch, "retained-few", few)
    large = _live_at_finalize(monkeypatch, "retained-many", many)

    # Each entry once: the fan-out's record of it (copies would double this).
    assert small["ImageEntry"] == few and large["ImageEntry"] == many
    # A future, a state or an event kept per image would be ≥ 2 objects per image (each
    # comes with its details, ids, resources); noise is far below that.
    per_run = small["prefect"] - first["prefect"]
    per_image = (large["prefect"] - small["prefect"] - per_run) / (many - few)
    assert abs(per_image) < 1.0, f"{per_image:.2f} Prefect objects retained per image"


def test_a_finished_run_leaves_nothing_behind(workspace):
    run_ids: list[str] = []

    def run_and_drop(name: str) -> weakref.ref[Any]:
        manifest = run_flow(_spec(name, 6), concurrency=2)
        assert manifest.counts["ok"] == 6
        run_ids.append(manifest.run_id)
        return weakref.ref(manifest)

    gone = [run_and_drop(f"left-{i}") for i in range(2)]
    gc.collect()
    assert [ref() for ref in gone] == [None, None]
    assert not [o for o in gc.get_objects() if type(o) is ImageEntry and o.run_id in run_ids]
