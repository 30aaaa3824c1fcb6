"""``pick: review``: make every candidate, ask a person, publish what they approve.

Built on the candidate model's seam (:mod:`mediagen.engine.candidates`, ``decisions``): ``gather``
makes and scores an image's candidates without choosing, ``decide`` records a
person's decision in the pick record, and the ordinary chain then publishes the
approved candidate. The loop, whoever asks (the Prefect form in
``flows/review.py``, the terminal in ``mediagen review``):

1. an image whose decisions are already recorded is not asked again: recorded
   rejections are followed (their notes appended to the prompt, as when they were
   made), and a recorded approval is published as it stands (its candidates are
   in the bucket: no backend call). An approval is sticky until the image changes
   (its prompt or options: new candidate keys, no record);
2. every other image gets its candidates (generated through the engine's
   ``generate``, so cached like any original, and scored);
3. ``ask`` shows them and returns one :class:`Answer` per image:
   - **approve** candidate *i*: recorded, then processed and published;
   - **skip**: nothing is recorded or published; the image is ``skipped`` and asked
     again next run;
   - **reject** with a note: recorded; the note is appended to the prompt, new
     candidates are made in the same run, and the image is **reviewed again** in the
     next round (a person rejected it: a machine should not pick the replacement).
     A rejection without a note changes nothing it could regenerate: it is a skip;
   - no answer (the terminal's input closed, the pause timed out, no server): the
     image is ``pending`` with its candidates stored; it is asked next run;
4. the decision trail (who, when, via what, every rejection's note) goes into the
   image's manifest entry as ``review`` (:mod:`mediagen.manifest.decisions`), beside
   the candidate model's ``candidates`` and ``pick``.

:data:`MAX_ROUNDS` bounds the rejections of one image in one run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from mediagen.engine.candidates import CandidateSet, gather, pending_fields
from mediagen.engine.context import RunContext
from mediagen.engine.decisions import Decision, decide, with_note
from mediagen.engine.entries import entry as make_entry
from mediagen.engine.orchestrate import make_image
from mediagen.engine.outcomes import Stopped, stopped_entry
from mediagen.engine.pick_record import read_record, record_key
from mediagen.engine.run import Run
from mediagen.errors import MediagenError
from mediagen.manifest.decisions import Action, Rejection, ReviewRecord, with_review
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.candidates import candidate_gen_keys
from mediagen.plan.jobs import ImageJob
from mediagen.reasons import short_reason

logger = logging.getLogger("mediagen")
T = TypeVar("T")

MAX_ROUNDS = 5  # rejections of one image in one run; then it waits for the next run
WAITING = "review: waiting for a decision (the Prefect UI's Resume form, or `mediagen review`)"


def wants_review(job: ImageJob) -> bool:
    """True when the spec says ``pick: review`` for this image."""
    return job.pick == "review"


@dataclass(frozen=True)
class Shown:
    """One candidate as a reviewer sees it."""

    index: int
    url: str | None  # None: it could not be made (``error``)
    score: float | None  # the candidate model's score (0-1, higher is better)
    signals: dict[str, float]
    seed: int | None
    error: str | None = None


@dataclass
class ReviewItem:
    """An image waiting for a decision: its candidates this round, and the notes so far."""

    job: ImageJob  # as the spec asks for it
    current: ImageJob  # after the reviewers' notes
    cset: CandidateSet
    shown: list[Shown]
    notes: tuple[str, ...] = ()
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def usable(self) -> list[int]:
        return [s.index for s in self.shown if s.url is not None and s.score is not None]

    def best(self) -> int:
        """The best-scoring candidate (the form's suggestion)."""
        try:
            return self.cset.best()
        except MediagenError:
            return 0


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
    del previous  # decisions live in the pick records, which outlive a lost manifest
    results: dict[str, ImageEntry] = {}
    open_items: dict[str, ReviewItem] = {}
    for item in _each(jobs, lambda job: _open(job, ctx, run), ctx):
        record = item.cset.record or {}
        if record.get("decision") == "approve" and item.cset.chosen is not None:
            kept = _trail(item, "approve", record.get("chosen"), record.get("by") or "", "kept")
            kept.decided_at = _when(record.get("at"))
            results[item.id] = _publish(item, kept, ctx, run)
        elif not item.usable:
            results[item.id] = _no_candidate(item, ctx)
        else:
            open_items[item.id] = item
    for round_ in range(1, MAX_ROUNDS + 1):
        if not open_items:
            break
        answers = ask(list(open_items.values()), round_)
        rejected = []
        for image_id, item in list(open_items.items()):
            answer = answers.get(image_id)
            if answer is None:
                results[image_id] = _waiting(item, ctx)
            elif answer.action == "reject" and answer.note.strip() and round_ < MAX_ROUNDS:
                rejected.append((item, answer))
                continue
            else:
                results[image_id] = _conclude(item, answer, ctx, run, via)
            del open_items[image_id]
        # The rejected images' new candidates, made side by side (the run's slots bound it).
        for item in _each(rejected, lambda pair: _reject(*pair, ctx, run), ctx):
            if not item.usable:
                results[item.id] = _no_candidate(item, ctx)
                del open_items[item.id]
    return results


def _each(
    values: Iterable[T], work: Callable[[T], ReviewItem], ctx: RunContext
) -> list[ReviewItem]:
    """``work`` on every value, up to the run's concurrency at once, in order."""
    values = list(values)
    if len(values) <= 1:
        return [work(v) for v in values]
    with ThreadPoolExecutor(min(len(values), ctx.concurrency), "mediagen-review") as pool:
        return list(pool.map(work, values))


def _open(job: ImageJob, ctx: RunContext, run: Run) -> ReviewItem:
    """The image's review so far: recorded rejections followed, the current candidates."""
    bucket = run.bucket(ctx.bucket)
    current, notes, rejections = job, (), []  # type: ignore[var-annotated]
    for _ in range(MAX_ROUNDS):  # a record only: no candidate is made to read it
        record = read_record(bucket, record_key(current, candidate_gen_keys(current)))
        if not record or record.get("decision") != "reject" or not record.get("note"):
            break
        note = str(record["note"])
        rejections.append(
            Rejection(note=note, reviewer=record.get("by") or "", decided_at=_when(record["at"]))
        )
        notes, current = (*notes, note), with_note(current, note)
    cset = gather(current, ctx, run)
    return ReviewItem(job, current, cset, _shown(cset, ctx, run), notes, rejections)


def _shown(cset: CandidateSet, ctx: RunContext, run: Run) -> list[Shown]:
    bucket = run.bucket(ctx.bucket)
    expiry = run.settings.review_timeout
    shown = []
    for c in cset.candidates:
        url = None
        if c.generated is not None:
            key = c.generated.original_key
            # Originals are private: a person sees them through a presigned link that lives
            # as long as the run waits (anyone who can read the review page can open it).
            url = bucket.plain_url(key) if bucket.local else bucket.sign(key, expiry)
        score = c.score.total if c.score else None
        signals = dict(c.score.signals) if c.score else {}
        shown.append(Shown(c.index, url, score, signals, c.job.request.seed, c.error))
    return shown


def _reject(item: ReviewItem, answer: Answer, ctx: RunContext, run: Run) -> ReviewItem:
    """Record the rejection and make the next candidates, with the note in the prompt."""
    decided = answer.decided_at or datetime.now(UTC)
    note = " ".join(answer.note.split())
    decision = Decision("reject", answer.candidate, note, answer.reviewer, decided)
    regenerated = _decide(item, decision, ctx, run)
    assert regenerated is not None
    item.rejections.append(
        Rejection(
            candidate=answer.candidate, note=note, reviewer=answer.reviewer, decided_at=decided
        )
    )
    item.notes, item.current = (*item.notes, note), regenerated
    logger.info("image %s rejected: regenerating with the note %r", item.id, note)
    item.cset = gather(item.current, ctx, run)
    item.shown = _shown(item.cset, ctx, run)
    return item


def _conclude(item: ReviewItem, answer: Answer, ctx: RunContext, run: Run, via: str) -> ImageEntry:
    """The entry of an image whose review ended: published or skipped."""
    decided = answer.decided_at or datetime.now(UTC)
    if answer.action == "approve" and answer.candidate in item.usable:
        decision = Decision("approve", answer.candidate, "", answer.reviewer, decided)
        _decide(item, decision, ctx, run)
        record = _trail(item, "approve", answer.candidate, answer.reviewer, via)
        record.decided_at = decided
        return _publish(item, record, ctx, run)
    why = "skipped"
    if answer.action == "approve":
        why = f"candidate {answer.candidate} cannot be approved (not made)"
    elif answer.action == "reject":
        why = "rejected without a note" if not answer.note.strip() else "too many rejections"
    record = _trail(item, "skip", None, answer.reviewer, via)
    record.decided_at = decided
    entry = make_entry(item.current, ctx, "skipped", error=f"review: {why} by {record.reviewer}")
    return with_review(entry, record)


def _decide(item: ReviewItem, decision: Decision, ctx: RunContext, run: Run) -> ImageJob | None:
    return decide(item.current, ctx, run, decision)


def _publish(item: ReviewItem, record: ReviewRecord, ctx: RunContext, run: Run) -> ImageEntry:
    """Publish the approved candidate through the ordinary chain (the pick record says which)."""
    return with_review(make_image(item.current, ctx, run), record)


def _waiting(item: ReviewItem, ctx: RunContext) -> ImageEntry:
    """``pending``, with its scored candidates in the entry (the gallery shows them)."""
    # The candidate model's own fields of an image awaiting review (private there: to be
    # made public when both branches are in; one shape for the chain's pending and ours).
    fields = pending_fields(item.cset)
    return make_entry(item.current, ctx, "pending", error=WAITING, **fields)


def _no_candidate(item: ReviewItem, ctx: RunContext) -> ImageEntry:
    errors = "; ".join(sorted({s.error for s in item.shown if s.error})) or "none was made"
    stop = Stopped("failed", f"review: no candidate to show ({short_reason(errors)})")
    return stopped_entry(item.current, ctx, stop)


def _trail(
    item: ReviewItem, action: Action, candidate: int | None, reviewer: str, via: str
) -> ReviewRecord:
    return ReviewRecord(
        action=action,
        candidate=candidate,
        reviewer=reviewer or "unknown",
        decided_at=datetime.now(UTC),
        via=via,  # type: ignore[arg-type]
        base_gen_key=item.job.gen_key,
        notes=list(item.notes),
        rejections=list(item.rejections),
    )


def _when(text: object) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.now(UTC)


__all__ = [
    "MAX_ROUNDS",
    "WAITING",
    "Answer",
    "Ask",
    "ReviewItem",
    "Shown",
    "review_images",
    "wants_review",
]
