"""``pick: review`` in the engine: candidates, answers, regeneration with a note, the record.

Real engine, local bucket, the counting backend (the offline renderer, calls counted
per prompt); the reviewer is a scripted ``ask``. The Prefect form and the terminal
are tested in tests/flows/test_review_form.py and tests/cli/test_review_command.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mediagen.engine.context import RunContext
from mediagen.engine.finalize import finalize
from mediagen.engine.review import Answer, ReviewItem, review_images
from mediagen.engine.review_artifact import review_markdown
from mediagen.engine.review_candidates import NOTE_HEAD, candidate_job, rekey
from mediagen.manifest.decisions import review_of
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from tests.support.backends import CountingBackend

SPEC: dict[str, Any] = {
    "name": "review",
    "backend": "counting",
    "defaults": {"size": "thumbnail", "brand_colors": ["#0A7B83 teal"]},
    "images": [
        {"id": "keep", "prompt": "a jar of coins"},
        {"id": "redo", "prompt": "a piggy bank"},
        {"id": "later", "prompt": "a wallet"},
    ],
}


def as_review(job: ImageJob, candidates: int = 2) -> ImageJob:
    """The job as ``pick: review, candidates: N`` makes it (fields of h17-candidates)."""
    object.__setattr__(job, "candidates", candidates)
    object.__setattr__(job, "pick", "review")
    return job


class Reviewer:
    """A scripted person: answers per round, and what each round showed."""

    def __init__(self, *rounds: dict[str, Answer]) -> None:
        self.rounds = list(rounds)
        self.shown: list[list[ReviewItem]] = []

    def __call__(self, items: list[ReviewItem], round_: int) -> dict[str, Answer]:
        self.shown.append(items)
        assert round_ == len(self.shown)
        return self.rounds.pop(0) if self.rounds else {}


def run_review(ask: Any, previous: Manifest | None = None) -> Manifest:
    settings = get_settings()
    spec = parse_spec(SPEC)
    jobs = [as_review(job) for job in expand_spec(spec, settings)]
    ctx = RunContext.for_spec(spec, settings, run_id=f"run-{len(CountingBackend.calls)}")
    plan = make_plan(jobs, previous, settings)
    with ctx.new_run(settings) as run:
        results = review_images(plan.todo, previous, ctx, run, ask, via="terminal")
        return finalize(ctx, plan, results, previous, run)


def published(workspace: Path) -> set[str]:
    root = workspace / "bucket" / "review"
    return {p.name for p in root.glob("*.png")}


def test_approve_reject_with_note_and_skip(workspace: Path) -> None:
    reviewer = Reviewer(
        {
            "keep": Answer("approve", 1, reviewer="ana"),
            "redo": Answer("reject", 0, note="more teal, no text", reviewer="ana"),
            "later": Answer("skip", reviewer="ana"),
        },
        {"redo": Answer("approve", 0, reviewer="bo")},
    )
    manifest = run_review(reviewer)

    # Two candidates per image, then two more for the rejected one, with the note.
    assert CountingBackend.total() == 3 * 2 + 2
    noted = [p for p in CountingBackend.calls if NOTE_HEAD + "more teal, no text" in p]
    assert len(noted) == 1 and CountingBackend.calls[noted[0]] == 2  # two seeds, one prompt
    assert [[i.id for i in r] for r in reviewer.shown] == [["keep", "redo", "later"], ["redo"]]
    assert reviewer.shown[1][0].notes == ("more teal, no text",)

    keep, redo, later = (manifest.images[i] for i in ("keep", "redo", "later"))
    assert keep.status == "ok" and redo.status == "ok" and later.status == "skipped"
    kept = review_of(keep)
    assert kept is not None and kept.action == "approve" and kept.candidate == 1
    assert kept.reviewer == "ana" and kept.via == "terminal"
    assert kept.chosen_gen_key == keep.gen_key != kept.base_gen_key
    assert [c.index for c in kept.candidates] == [0, 1]
    assert all(c.score is not None for c in kept.candidates)
    redone = review_of(redo)
    assert redone is not None and redone.reviewer == "bo" and redone.notes == ["more teal, no text"]
    assert [(r.note, r.reviewer) for r in redone.rejections] == [("more teal, no text", "ana")]
    assert redo.prompt.endswith(NOTE_HEAD + "more teal, no text")
    skipped = review_of(later)
    assert skipped is not None and skipped.action == "skip" and not later.outputs
    # Only the two approved images are published: no candidate of 'later', no unchosen one.
    assert published(workspace) == {Path(keep.key or "").name, Path(redo.key or "").name}
    stored = json.loads((workspace / "bucket" / "review" / "manifest.json").read_text())
    assert stored["images"]["keep"]["review"]["reviewer"] == "ana"


def test_an_approval_is_sticky_and_a_skip_is_asked_again(workspace: Path) -> None:
    first = run_review(
        Reviewer(
            {
                "keep": Answer("approve", 1, reviewer="ana"),
                "redo": Answer("reject", 0, note="warmer", reviewer="ana"),
                "later": Answer("skip", reviewer="ana"),
            },
            {"redo": Answer("approve", 1, reviewer="ana")},
        )
    )
    calls = CountingBackend.total()
    again = Reviewer({"later": Answer("approve", 0, reviewer="cy")})
    second = run_review(again, previous=first)
    assert [[i.id for i in r] for r in again.shown] == [["later"]]  # not asked again
    assert CountingBackend.total() == calls  # every candidate came from the bucket
    for image_id in ("keep", "redo"):
        entry, before = second.images[image_id], first.images[image_id]
        assert entry.status == "ok" and entry.key == before.key
        record = review_of(entry)
        assert record is not None and record.via == "kept" and record.reviewer == "ana"
    assert second.images["later"].status == "ok"
    assert review_of(second.images["later"]).reviewer == "cy"  # type: ignore[union-attr]


def test_no_answer_leaves_the_image_pending_and_nothing_published(workspace: Path) -> None:
    manifest = run_review(Reviewer())
    assert {e.status for e in manifest.images.values()} == {"pending"}
    assert published(workspace) == set()
    assert CountingBackend.total() == 6  # the candidates are stored: the next ask is free


def test_the_review_page_shows_every_candidate_escaped(workspace: Path) -> None:
    seen: list[str] = []

    def ask(items: list[ReviewItem], round_: int) -> dict[str, Answer]:
        items[0].job = replace(items[0].job, id="x*y_[z]")
        seen.append(review_markdown("a <b> spec", items, round_))
        return {}

    run_review(ask)
    page = seen[0]
    assert "# Review: a \\<b\\> spec" in page and "## x\\*y\\_\\[z\\]" in page
    # Each candidate: a bounded <img> thumbnail and a link to its original.
    assert page.count('<img src="file://') == 3 * 2 and page.count("](file://") == 3 * 2
    assert 'width="192"' in page
    assert page.count("| **") == 6 and "(best)" in page


def test_rekey_gives_the_same_job_back_and_candidate_zero_is_the_image() -> None:
    spec = parse_spec(
        {
            "name": "k",
            "images": [
                {"id": "a", "prompt": "p", "alt_text": "auto", "focal_point": "top",
                 "brand_colors": ["#112233"], "brand_fit": {"min_score": 0.2},
                 "variants": {"widths": [100, 200]}, "formats": ["png", "webp"]},
                {"id": "b", "prompt": "q", "seed": 5},
            ],
        }
    )  # fmt: skip
    for job in expand_spec(spec, get_settings()):
        assert rekey(job, job.request) == job
        assert candidate_job(job, 0) is job
        other = candidate_job(job, 1, ("bluer",))
        assert other.request.seed == (job.request.seed or 0) + 1
        assert other.gen_key != job.gen_key and other.original_key.endswith(other.gen_key)
        assert {o.object_key for o in other.outputs}.isdisjoint(o.object_key for o in job.outputs)


@pytest.fixture(autouse=True)
def _offline(workspace: Path) -> None:
    pass
