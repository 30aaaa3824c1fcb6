"""``pick: review`` in the engine: candidates, answers, regeneration with a note, the record.

Real engine, local bucket, the counting backend (the offline renderer, calls counted
per prompt); the reviewer is a scripted ``ask``. The Prefect form and the terminal
are tested in tests/flows/test_review_form.py and tests/cli/test_review_command.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mediagen.engine.context import RunContext
from mediagen.engine.finalize import finalize
from mediagen.engine.review import Answer, ReviewItem, review_images
from mediagen.engine.review_artifact import review_markdown
from mediagen.manifest.decisions import review_of
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from tests.support.backends import CountingBackend

SPEC: dict[str, Any] = {
    "name": "review",
    "backend": "counting",
    "defaults": {
        "size": "thumbnail",
        "brand_colors": ["#0A7B83 teal"],
        "candidates": 2,
        "pick": "review",
    },
    "images": [
        {"id": "keep", "prompt": "a jar of coins"},
        {"id": "redo", "prompt": "a piggy bank"},
        {"id": "later", "prompt": "a wallet"},
    ],
}


NOTE_HEAD = "Reviewer note: "  # how mediagen.engine.candidates.with_note appends a note


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
    jobs = expand_spec(spec, settings)
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
    # The candidate model's record of the same choice: every candidate scored, one chosen.
    assert keep.pick is not None and (keep.pick.chosen, keep.pick.decision) == (1, "approve")
    assert keep.pick.by == "ana" and keep.gen_key == keep.pick.gen_key != kept.base_gen_key
    assert [(c.index, c.chosen) for c in keep.candidates] == [(0, False), (1, True)]
    assert all(c.score is not None for c in keep.candidates)
    redone = review_of(redo)
    assert redone is not None and redone.reviewer == "bo" and redone.notes == ["more teal, no text"]
    assert [(r.note, r.reviewer) for r in redone.rejections] == [("more teal, no text", "ana")]
    assert redo.prompt.endswith(NOTE_HEAD + "more teal, no text")
    skipped = review_of(later)
    assert skipped is not None and skipped.action == "skip" and not later.outputs
    assert later.error == "review: skipped by ana"
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
    # 'keep' is unchanged (the plan compares the chosen candidate): its entry stands as it was.
    assert review_of(second.images["keep"]) == review_of(first.images["keep"])
    # 'redo' was published from the noted prompt: the recorded rejection is followed, the
    # recorded approval published again, nobody asked.
    redone = review_of(second.images["redo"])
    assert redone is not None and (redone.via, redone.reviewer, redone.notes) == (
        "kept", "ana", ["warmer"])  # fmt: skip
    assert [r.note for r in redone.rejections] == ["warmer"]
    assert second.images["later"].status == "ok"
    assert review_of(second.images["later"]).reviewer == "cy"  # type: ignore[union-attr]


def test_no_answer_leaves_the_image_pending_and_nothing_published(workspace: Path) -> None:
    manifest = run_review(Reviewer())
    assert {e.status for e in manifest.images.values()} == {"pending"}
    # The gallery can show them for a review outside Prefect: scored, none chosen.
    for entry in manifest.images.values():
        assert len(entry.candidates) == 2 and all(c.score is not None for c in entry.candidates)
        assert entry.pick is not None and entry.pick.chosen is None
    assert published(workspace) == set()
    assert CountingBackend.total() == 6  # the candidates are stored: the next ask is free


def test_the_review_page_shows_every_candidate_escaped(workspace: Path) -> None:
    seen: list[str] = []

    def ask(items: list[ReviewItem], round_: int) -> dict[str, Answer]:
        seen.append(review_markdown("a <b> spec", items, round_))
        return {}

    SPEC["images"][0]["id"] = "x_y"
    try:
        run_review(ask)
    finally:
        SPEC["images"][0]["id"] = "keep"
    page = seen[0]
    assert "# Review: a \\<b\\> spec" in page and "## x\\_y" in page
    assert "brand 0." in page and "sharpness" in page
    # Each candidate: a bounded <img> thumbnail and a link to its original.
    assert page.count('<img src="file://') == 3 * 2 and page.count("](file://") == 3 * 2
    assert 'width="192"' in page
    assert page.count("| **") == 6 and "(best)" in page


@pytest.fixture(autouse=True)
def _offline(workspace: Path) -> None:
    pass
