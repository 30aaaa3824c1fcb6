"""Many images in one unit of work (mediagen/engine/pool.py): retries, isolation, reporting.

The offline (counting) backend and a local bucket: calls are counted on the backend,
published files read back from the bucket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediagen.engine import pool
from mediagen.engine.context import RunContext
from mediagen.engine.pool import batches, images_per_task, make_batch, make_image_retrying
from mediagen.engine.run import Run
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec


def jobs_of(prompts: dict[str, str]) -> tuple[list[Any], RunContext]:
    settings = get_settings()
    images = [{"id": i, "prompt": p, "size": "thumbnail"} for i, p in prompts.items()]
    spec = parse_spec({"name": "pool", "backend": "counting", "images": images})
    return expand_spec(spec, settings), RunContext.for_spec(spec, settings, run_id="t")


def test_images_per_task_is_one_each_up_to_twenty_then_about_twenty_task_runs(
    workspace: Path,
) -> None:
    assert [images_per_task(n) for n in (1, 10, 20, 21, 200, 1000, 10_000)] == [
        1, 1, 1, 2, 10, 50, 500,
    ]  # fmt: skip
    assert images_per_task(1000, setting=7) == 7  # MEDIAGEN_IMAGES_PER_TASK wins
    jobs, _ = jobs_of({f"i{n}": f"jar {n}" for n in range(5)})
    assert [[j.id for j in b] for b in batches(jobs, 2)] == [["i0", "i1"], ["i2", "i3"], ["i4"]]


def test_a_transient_failure_is_retried_and_a_permanent_one_is_not(
    workspace: Path, counting: Any
) -> None:
    (flaky, bad), ctx = jobs_of({"flaky": "a jar [[flaky]]", "bad": "a jar [[fail]]"})
    with Run() as run:
        made = make_image_retrying(flaky, ctx, run, retries=3, base_delay=0.01)
        failed = make_image_retrying(bad, ctx, run, retries=3, base_delay=0.01)
    assert made.status == "ok" and (workspace / "bucket" / made.key).is_file()
    assert failed.status == "failed" and failed.error.startswith("generate: PermanentError")
    calls = {p.split(".")[0]: n for p, n in counting.calls.items()}
    assert calls == {"a jar [[flaky]]": 3, "a jar [[fail]]": 1}


def test_without_retries_a_transient_failure_is_recorded(workspace: Path, counting: Any) -> None:
    (flaky,), ctx = jobs_of({"flaky": "a jar [[flaky]]"})
    with Run() as run:
        entry = make_image_retrying(flaky, ctx, run, retries=0)
    assert entry.status == "failed" and "TransientError" in entry.error
    assert counting.total() == 1


def test_one_images_failure_never_fails_the_others_of_its_batch(
    workspace: Path, counting: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs, ctx = jobs_of({"a": "jar a", "bug": "jar bug", "c": "jar c [[fail]]", "d": "jar d"})
    real = pool.make_image_retrying

    def buggy(job: Any, *args: Any, **kwargs: Any) -> Any:
        if job.id == "bug":
            raise RuntimeError("a bug in one image")
        return real(job, *args, **kwargs)

    monkeypatch.setattr(pool, "make_image_retrying", buggy)
    heard: list[tuple[str, str]] = []
    with Run() as run:
        entries = make_batch(
            jobs, ctx, run, workers=3, on_entry=lambda job, e: heard.append((job.id, e.status))
        )
    assert list(entries) == ["a", "bug", "c", "d"]  # the jobs' order, whatever finished first
    assert {i: e.status for i, e in entries.items()} == {
        "a": "ok", "bug": "failed", "c": "failed", "d": "ok",
    }  # fmt: skip
    assert "a bug in one image" in entries["bug"].error
    assert sorted(heard) == sorted((i, e.status) for i, e in entries.items())  # each once
    for image_id in ("a", "d"):
        assert (workspace / "bucket" / entries[image_id].key).is_file()


def test_an_interrupted_run_records_images_not_started_as_pending(
    workspace: Path, counting: Any
) -> None:
    jobs, ctx = jobs_of({"a": "jar a", "b": "jar b"})
    with Run() as run:
        run.interrupt("interrupted by SIGTERM")
        entries = make_batch(jobs, ctx, run, workers=2, retries=2, base_delay=0.01)
    assert {e.status for e in entries.values()} == {"pending"}
    assert counting.total() == 0  # no backend call starts once interrupted
