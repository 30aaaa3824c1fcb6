"""The one chain and its outcome rules, whatever executes the stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import chain, make_image
from mediagen.engine.outcomes import summarize
from mediagen.engine.run import Run
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from tests.support.local_run import run_locally


def jobs_of(prompts: dict[str, str]) -> tuple[list[Any], RunContext]:
    settings = get_settings()
    images = [{"id": i, "prompt": p, "size": "thumbnail"} for i, p in prompts.items()]
    spec = parse_spec({"name": "chain", "backend": "counting", "images": images})
    return expand_spec(spec, settings), RunContext.for_spec(spec, settings, run_id="t")


def test_the_chain_hands_each_stage_the_handles_of_the_earlier_ones(workspace: Path) -> None:
    (job,), ctx = jobs_of({"a": "a jar"})
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def submit(stage: str, *args: Any) -> str:
        calls.append((stage, args))
        return f"<{stage}>"

    handles = chain(job, ctx, submit)
    assert handles == ["<generate>", "<process>", "<upload>"]
    assert calls == [
        ("generate", (job, ctx)),
        ("process", (job, "<generate>", ctx)),
        ("upload", (job, "<generate>", "<process>", ctx)),
    ]
    calls.clear()
    assert chain(job, ctx, submit, publish=False) == ["<generate>", "<process>"]


def test_an_images_own_failure_names_its_stage_and_is_no_abort(
    workspace: Path, counting: Any
) -> None:
    (bad, good), ctx = jobs_of({"bad": "a jar [[fail]]", "good": "a jar"})
    with Run() as run:
        failed = make_image(bad, ctx, run)
        made = make_image(good, ctx, run)
    assert failed.status == "failed" and not failed.aborted
    assert failed.error and failed.error.startswith("generate: PermanentError: ")
    assert made.status == "ok" and counting.total() == 2  # one failure does not stop a run


def test_summary_counts_stopped_images_once_and_lists_own_failures(
    workspace: Path, counting: Any
) -> None:
    spec = {
        "name": "mixed",
        "backend": "counting",
        "images": [
            {"id": "ok", "prompt": "a jar", "size": "thumbnail"},
            {"id": "bad", "prompt": "a jar [[fail]]", "size": "thumbnail"},
            {"id": "blocked", "prompt": "a jar [[blocked]]", "size": "thumbnail"},
        ],
    }
    manifest = run_locally(spec)
    summary = summarize(manifest)
    assert [e.id for e in summary.failures] == ["bad", "blocked"]
    assert (summary.aborted, summary.skipped, summary.pending) == (0, 0, 0)
    # The same entries in an aborted run: only the ones marked aborted are grouped.
    aborted = manifest.model_copy(
        update={
            "run_aborted": "the key was refused",
            "images": {
                **manifest.images,
                "bad": manifest.images["bad"].model_copy(update={"aborted": True}),
            },
        }
    )
    summary = summarize(aborted)
    assert summary.aborted == 1 and [e.id for e in summary.failures] == ["blocked"]
