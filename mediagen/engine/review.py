"""``pick: review``: make every candidate, ask a person, publish what they approve.

The loop, whoever asks (the Prefect form in ``flows/review.py``, the terminal in
``mediagen review``):

1. an image with a sticky approval (:mod:`mediagen.manifest.decisions`) is
   published again as approved, without asking (its candidate is in the bucket:
   no backend call);
2. every other image gets its candidates (:mod:`mediagen.engine.review_candidates`),
   each generated through the engine's ``generate`` (so cached like any original)
   and scored;
3. ``ask`` shows them and returns one :class:`Answer` per image:
   - **approve** candidate *i*: that candidate is processed and published;
   - **skip**: nothing is published; the image is recorded ``skipped`` (asked again
     next run);
   - **reject** with a note: the note is appended to the prompt, new candidates
     are made in the same run, and the image is **reviewed again** in the next
     round (a person rejected it: a machine should not pick the replacement);
   - no answer for an image (the terminal was closed, the form left it out): it
     is recorded ``pending``, asked next run;
4. each decision (who, when, what, the rejections on the way and the candidates
   shown with their scores) goes into the image's manifest entry.

Rounds end when no image is rejected; :data:`MAX_ROUNDS` bounds a loop that a
script answering "reject" forever would otherwise never leave.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from PIL import Image

from mediagen.engine.context import Generated, RunContext
from mediagen.engine.entries import entry as make_entry
from mediagen.engine.orchestrate import generate_step, make_image
from mediagen.engine.outcomes import Stopped, stopped_entry
from mediagen.engine.review_candidates import candidate_count, candidate_job
from mediagen.engine.run import Run
from mediagen.imaging.colors import brand_fit_score
from mediagen.manifest.decisions import (
    Action,
    CandidateRecord,
    Rejection,
    ReviewRecord,
    sticky_approval,
    with_review,
)
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.jobs import ImageJob
from mediagen.reasons import short_reason

logger = logging.getLogger("mediagen")

MAX_ROUNDS = 5  # rejections of one image in one run; then it waits for the next run
URL_SECONDS = 24 * 3600  # a reviewer's link to a private original (presigned)
WAITING = "review: waiting for a decision (the Prefect UI's Resume form, or `mediagen review`)"
SCORE_SIDE = 256  # scores are measured on a thumbnail: the share of pixels barely moves


@dataclass(frozen=True)
class Candidate:
    """One candidate, stored in the bucket, as a reviewer sees it."""

    index: int
    job: ImageJob
    generated: Generated
    score: float | None  # brand fit 0-1 (None: the image has no colours to fit)
    url: str  # where a person can look at it (presigned for a private bucket)


@dataclass
class ReviewItem:
    """An image waiting for a decision: its candidates this round, and the notes so far."""

    job: ImageJob  # as the spec asks for it (base gen_key)
    candidates: list[Candidate]
    notes: tuple[str, ...] = ()
    rejections: list[Rejection] = field(default_factory=list)
    failure: ImageEntry | None = None  # no candidate could be made: this is its entry

    @property
    def id(self) -> str:
        return self.job.id

    def best(self) -> int:
        """The index of the highest-scoring candidate (the form's suggestion)."""
        scored = [(c.score if c.score is not None else -1.0, -c.index) for c in self.candidates]
        return -max(scored)[1] if scored else 0


@dataclass(frozen=True)
class Answer:
    """A reviewer's answer about one image."""

    action: Action
    candidate: int = 0
    note: str = ""
    reviewer: str = ""
    decided_at: datetime | None = None


Ask = Callable[[list[ReviewItem], int], dict[str, Answer]]  # (open items, round) -> answers


def review_images(
    jobs: Iterable[ImageJob],
    previous: Manifest | None,
    ctx: RunContext,
    run: Run,
    ask: Ask,
    *,
    via: str,
) -> dict[str, ImageEntry]:
    """Review ``jobs`` (see the module doc); returns {image id: manifest entry}."""
    entries = previous.images if previous else {}
    results: dict[str, ImageEntry] = {}
    open_items: dict[str, ReviewItem] = {}
    for job in jobs:
        kept = sticky_approval(entries.get(job.id), job.gen_key)
        chosen = _kept_candidate(job, kept)
        if kept is not None and chosen is not None:
            published = make_image(chosen, ctx, run)
            results[job.id] = with_review(published, kept.model_copy(update={"via": "kept"}))
            continue
        item = ReviewItem(job, make_candidates(job, (), ctx, run))
        _settle_failure(item, ctx)
        if item.failure is not None:
            results[job.id] = item.failure
        else:
            open_items[job.id] = item
    for round_ in range(1, MAX_ROUNDS + 1):
        if not open_items:
            break
        answers = ask(list(open_items.values()), round_)
        for image_id, item in list(open_items.items()):
            answer = answers.get(image_id)
            if answer is None or answer.action != "reject" or round_ == MAX_ROUNDS:
                results[image_id] = _conclude(item, answer, ctx, run, via)
                del open_items[image_id]
                continue
            decided = answer.decided_at or datetime.now(UTC)
            item.rejections.append(
                Rejection(
                    candidate=answer.candidate,
                    note=answer.note,
                    reviewer=answer.reviewer,
                    decided_at=decided,
                )
            )
            item.notes = (*item.notes, answer.note)
            logger.info("image %s rejected: regenerating with the note %r", image_id, answer.note)
            item.candidates = make_candidates(item.job, item.notes, ctx, run)
            _settle_failure(item, ctx)
            if item.failure is not None:
                results[image_id] = item.failure
                del open_items[image_id]
    return results


def make_candidates(
    job: ImageJob, notes: tuple[str, ...], ctx: RunContext, run: Run
) -> list[Candidate]:
    """Generate (or find in the bucket) each candidate of ``job`` after ``notes``; score them.

    A candidate that could not be made is left out (logged); a stop of the run
    (abort, budget, interrupt) ends the list there."""
    bucket = run.bucket(ctx.bucket)
    made: list[Candidate] = []
    for index in range(candidate_count(job)):
        cjob = candidate_job(job, index, notes)
        try:
            generated = generate_step(cjob, ctx, run)
        except Exception as exc:
            logger.warning("image %s: candidate %d failed: %s", job.id, index, short_reason(exc))
            continue
        if isinstance(generated, Stopped):
            break
        data = bucket.get(generated.original_key)
        url = (
            bucket.plain_url(generated.original_key)
            if bucket.local
            else bucket.sign(generated.original_key, URL_SECONDS)
        )
        made.append(Candidate(index, cjob, generated, score_of(job, data), url))
    return made


def score_of(job: ImageJob, data: bytes) -> float | None:
    """Brand fit (CIEDE2000, :func:`~mediagen.imaging.colors.brand_fit_score`) against the
    spec's brand colours, else the theme's palette; a thumbnail is enough to measure it."""
    colours = job.request.brand_colors or job.request.palette
    if not colours:
        return None
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((SCORE_SIDE, SCORE_SIDE))
        max_delta_e = job.brand_check.max_delta_e if job.brand_check else 10.0
        return brand_fit_score(image.convert("RGB"), list(colours), max_delta_e)


def _settle_failure(item: ReviewItem, ctx: RunContext) -> None:
    if item.candidates:
        return
    # Every candidate failed (or the run stopped): the image's last attempt says why.
    last = candidate_job(item.job, 0, item.notes)
    item.failure = stopped_entry(
        last, ctx, Stopped("failed", "review: no candidate could be made (see the run's log)")
    )


def _conclude(
    item: ReviewItem, answer: Answer | None, ctx: RunContext, run: Run, via: str
) -> ImageEntry:
    """The entry of an image whose review ended: published, skipped or waiting."""
    if answer is None:
        return make_entry(item.job, ctx, "pending", error=WAITING)
    decided = answer.decided_at or datetime.now(UTC)
    action: Action = "skip" if answer.action == "reject" else answer.action  # MAX_ROUNDS
    chosen = next((c for c in item.candidates if c.index == answer.candidate), None)
    if action == "approve" and chosen is None:
        action = "skip"  # an index that was not shown: nothing is published on a guess
    record = ReviewRecord(
        action=action,
        candidate=chosen.index if action == "approve" and chosen else None,
        chosen_gen_key=chosen.job.gen_key if action == "approve" and chosen else None,
        reviewer=answer.reviewer or "unknown",
        decided_at=decided,
        via=via,  # type: ignore[arg-type]
        base_gen_key=item.job.gen_key,
        notes=list(item.notes),
        rejections=item.rejections,
        candidates=[_record(c) for c in item.candidates],
    )
    if action == "approve" and chosen is not None:
        published = make_image(chosen.job, ctx, run)
        return with_review(published, record)
    skipped = make_entry(item.job, ctx, "skipped", error=f"review: skipped by {record.reviewer}")
    return with_review(skipped, record)


def _kept_candidate(job: ImageJob, kept: ReviewRecord | None) -> ImageJob | None:
    """The candidate an earlier approval chose, made from the same notes; ``None`` when it
    is not the very generation approved then (never publish what nobody saw)."""
    if kept is None or kept.candidate is None:
        return None
    chosen = candidate_job(job, kept.candidate, tuple(kept.notes))
    return chosen if chosen.gen_key == kept.chosen_gen_key else None


def _record(candidate: Candidate) -> CandidateRecord:
    return CandidateRecord(
        index=candidate.index,
        gen_key=candidate.job.gen_key,
        seed=candidate.job.request.seed,
        score=candidate.score,
        original_key=candidate.generated.original_key,
    )


__all__ = [
    "MAX_ROUNDS",
    "Answer",
    "Ask",
    "Candidate",
    "ReviewItem",
    "make_candidates",
    "review_images",
    "score_of",
]
