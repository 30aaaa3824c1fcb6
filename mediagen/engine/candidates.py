"""Several candidates per image: generate each, score each, choose one, publish only it.

An image with ``candidates: N`` (or ``pick: review``) goes through the ordinary
chain; only its generate stage differs (:func:`generate_any`):

1. :func:`gather` generates every candidate through the ordinary generate stage
   (:mod:`mediagen.engine.generate`: the bucket is the cache, so a candidate is
   never paid twice) and scores it (:mod:`mediagen.imaging.scoring`);
2. the choice: a recorded one (the pick record, below), else ``pick: auto``'s best
   score; ``pick: review`` without a recorded decision raises
   :class:`AwaitingReview` (the image is ``pending``: nothing is published);
3. process and upload make and publish the chosen candidate only
   (:func:`chosen_job` re-keys the job), and :func:`annotate` adds every candidate's
   score and the choice to the manifest entry.

**The pick record** (:mod:`mediagen.engine.pick_record`): every candidate's score
and the choice, stored privately beside candidate 0's original; the same candidates
give the same choice, an approval is sticky, and pruned losers are never made again.

**The seam for review** (``pick: review``): :func:`gather` makes and scores the
candidates without choosing; :func:`mediagen.engine.decisions.decide` takes a person's decision
(approve candidate i, reject with a note, skip) and records it; the chain then
publishes the approved candidate as it would an automatic pick. The Prefect pause
and the terminal UI are built on these two functions (see
:mod:`mediagen.engine.decisions` for a run of decisions given in code).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.entries import is_abort
from mediagen.engine.generate import generate
from mediagen.engine.pick_record import read_record, record_key, write_record
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.engine.upload import upload
from mediagen.errors import (
    BudgetExceededError,
    MediagenError,
    PermanentError,
    RunInterruptedError,
)
from mediagen.imaging import pixel_budget, scoring
from mediagen.imaging.answer_check import inspect as inspect_image
from mediagen.imaging.colors import DEFAULT_MAX_DELTA_E
from mediagen.manifest.model import CandidateEntry, ImageEntry, PickEntry
from mediagen.plan.candidates import candidate_jobs, has_choice
from mediagen.plan.jobs import ImageJob
from mediagen.reasons import short_reason

logger = logging.getLogger("mediagen")

AUTO_BY = "mediagen"  # who made an automatic pick
MAX_PARALLEL = 4  # candidates of one image generated at once (the run's slots still bound it)


class AwaitingReview(MediagenError):
    """``pick: review`` and no decision yet: the image waits (``pending``), nothing is published.

    ``fields``: its scored candidates, for the pending manifest entry (what a reviewer sees)."""

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


@dataclass(frozen=True)
class Candidate:
    """One candidate: its job, its original (``None``: not made, or pruned after losing),
    its score, and what it cost."""

    index: int
    job: ImageJob
    generated: Generated | None
    score: scoring.Score | None
    cost_usd: float = 0.0
    error: str | None = None  # why it has no original (blocked, failed)
    original_key: str | None = None  # a loser's, from the pick record (maybe pruned since)

    @property
    def usable(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class CandidateSet:
    """An image's candidates, scored, and the pick record stored for them (if any)."""

    job: ImageJob
    candidates: tuple[Candidate, ...]
    record_key: str
    record: dict[str, Any] | None = None

    @property
    def chosen(self) -> int | None:
        """The recorded choice (a person's, or an earlier automatic pick), if any."""
        return self.record.get("chosen") if self.record else None

    def best(self) -> int:
        """The index of the best-scoring usable candidate (ties: the lowest index)."""
        usable = [c for c in self.candidates if c.usable]
        if not usable:
            errors = "; ".join(f"#{c.index}: {c.error}" for c in self.candidates if c.error)
            raise PermanentError(f"no candidate could be made ({errors or 'none scored'})")
        winner = scoring.best([c.score for c in usable])  # type: ignore[misc]
        return usable[winner].index


@dataclass(frozen=True)
class Picked(Generated):
    """The chosen candidate's original (a :class:`Generated`), plus every candidate and the
    choice, as the manifest records them."""

    chosen: int = 0
    candidates: tuple[dict[str, Any], ...] = ()  # CandidateEntry fields
    pick: dict[str, Any] = field(default_factory=dict)  # PickEntry fields


# -- the stages, candidate-aware ----------------------------------------------------------


def generate_any(job: ImageJob, ctx: RunContext, run: Run) -> Generated:
    """The generate stage: the ordinary one, or for a job with candidates the chosen one's."""
    if not has_choice(job):
        return generate(job, ctx, run)
    cset = gather(job, ctx, run)
    chosen = cset.chosen
    # A recorded choice stands while its candidate can be made; gather made it if it could.
    if (
        chosen is None
        or not 0 <= chosen < len(cset.candidates)
        or not cset.candidates[chosen].usable
    ):
        if job.pick == "review":
            raise AwaitingReview(
                f"waiting for a review of {len(cset.candidates)} candidate(s)",
                pending_fields(cset),
            )
        try:
            chosen = cset.best()
        except PermanentError:
            run.emit(job.id, "failed")
            raise
        cset = record_choice(run, ctx, cset, chosen, "auto", AUTO_BY)
    result = picked(cset, chosen, ctx, run)
    run.emit(job.id, "generated")
    return result


def chosen_job(job: ImageJob, generated: Generated) -> ImageJob:
    """The job process and upload work on: the chosen candidate's (re-keyed) job."""
    if isinstance(generated, Picked) and has_choice(job):
        return candidate_jobs(job)[generated.chosen]
    return job


def process_any(job: ImageJob, generated: Generated, ctx: RunContext, run: Run) -> list[Processed]:
    return process(chosen_job(job, generated), generated, ctx, run)


def upload_any(
    job: ImageJob, generated: Generated, processed: list[Processed], ctx: RunContext, run: Run
) -> ImageEntry:
    return annotate(upload(chosen_job(job, generated), generated, processed, ctx, run), generated)


def annotate(entry: ImageEntry, generated: Generated | None) -> ImageEntry:
    """``entry`` with every candidate and the choice (for an image that had candidates)."""
    if not isinstance(generated, Picked):
        return entry
    return entry.model_copy(
        update={
            "candidates": [CandidateEntry.model_validate(c) for c in generated.candidates],
            "pick": PickEntry.model_validate(generated.pick),
        }
    )


# -- gather, score, decide --------------------------------------------------------------


def gather(job: ImageJob, ctx: RunContext, run: Run) -> CandidateSet:
    """Generate (or find) and score every candidate of ``job``; chooses nothing.

    A candidate that lost a recorded choice is not made again: its score is the
    recorded one (its original may have been pruned). A candidate the backend
    refused or failed on is left out of the choice (``error``); a stopped run
    (abort, budget, interrupt) raises as the ordinary stage does.
    """
    jobs = candidate_jobs(job)
    key = record_key(job, [c.gen_key for c in jobs])
    record = read_record(run.bucket(ctx.bucket), key)
    recorded = {c["index"]: c for c in (record or {}).get("candidates", [])}
    chosen = record.get("chosen") if record else None
    quiet = _Quiet(run)  # one image's progress, not one event per candidate

    def one(index: int) -> Candidate:
        candidate_job = jobs[index]
        old = recorded.get(index)
        if chosen is not None and index != chosen and old and old.get("score") is not None:
            score = scoring.Score(old["score"], old.get("signals", {}), old.get("score_version", 0))
            return Candidate(index, candidate_job, None, score, old.get("cost_usd", 0.0),
                             original_key=old.get("original_key"))  # fmt: skip
        try:
            made = generate(candidate_job, ctx, quiet)
        except Exception as exc:
            if _stops_run(exc):
                raise
            logger.warning("image %s: candidate %d failed: %s", job.id, index, short_reason(exc))
            cost = float(getattr(exc, "cost_usd", 0.0) or 0.0)
            return Candidate(index, candidate_job, None, None, cost, error=short_reason(exc))
        score = score_original(candidate_job, made, ctx, run)
        return Candidate(index, candidate_job, made, score, made.cost_usd)

    indices = range(len(jobs))
    if len(jobs) == 1:
        candidates = [one(0)]
    else:
        with ThreadPoolExecutor(min(len(jobs), MAX_PARALLEL), "mediagen-candidate") as pool:
            candidates = list(pool.map(one, indices))
    return CandidateSet(job, tuple(candidates), key, record)


def score_original(job: ImageJob, generated: Generated, ctx: RunContext, run: Run) -> scoring.Score:
    """Score a stored original as it would be published (see :mod:`mediagen.imaging.scoring`)."""
    data = run.bucket(ctx.bucket).get(generated.original_key)
    checked = inspect_image(data)
    delta_e = job.brand_check.max_delta_e if job.brand_check else DEFAULT_MAX_DELTA_E
    with pixel_budget.hold(checked.pixels):
        return scoring.score_image(
            data,
            job.request.width,
            job.request.height,
            job.request.brand_colors,
            focal=job.focal_point,
            max_delta_e=delta_e,
        )


def picked(cset: CandidateSet, chosen: int, ctx: RunContext, run: Run) -> Picked:
    """The :class:`Picked` of candidate ``chosen`` (its original made again if it is gone)."""
    winner = cset.candidates[chosen]
    made = winner.generated or generate(winner.job, ctx, _Quiet(run))
    now_paid = [c for c in cset.candidates if c.generated is not None and not c.generated.reused]
    paid_by = ctx.run_id if now_paid else made.cost_run_id
    fields = {k: v for k, v in asdict(made).items() if k in Generated.__dataclass_fields__}
    record = cset.record or {}
    return Picked(
        **{
            **fields,
            "cost_usd": round(sum(c.cost_usd for c in cset.candidates), 8),
            "cost_run_id": paid_by,
            "reused": not now_paid,
        },
        chosen=chosen,
        candidates=tuple(_candidate_fields(c, chosen) for c in cset.candidates),
        pick={
            "mode": cset.job.pick,
            "chosen": chosen,
            "gen_key": winner.job.gen_key,
            "decision": record.get("decision", "auto"),
            "by": record.get("by"),
            "at": record.get("at"),
            "note": record.get("note"),
            "record_key": cset.record_key,
            "keep_candidates": cset.job.keep_candidates,
        },
    )


def record_choice(
    run: Run,
    ctx: RunContext,
    cset: CandidateSet,
    chosen: int | None,
    decision: str,
    by: str,
    at: datetime | None = None,
    note: str = "",
) -> CandidateSet:
    """Store the pick record of ``cset`` (a choice, or a decision without one)."""
    record = write_record(
        run.bucket(ctx.bucket),
        cset.record_key,
        image_id=cset.job.id,
        mode=cset.job.pick,
        chosen=chosen,
        decision=decision,
        by=by,
        at=at,
        note=note,
        candidates=[_candidate_fields(c, chosen) for c in cset.candidates],
    )
    return replace(cset, record=record)


def _candidate_fields(candidate: Candidate, chosen: int | None) -> dict[str, Any]:
    score = candidate.score
    made = candidate.generated
    return {
        "index": candidate.index,
        "seed": candidate.job.request.seed,
        "gen_key": candidate.job.gen_key,
        "original_key": made.original_key if made else candidate.original_key,
        "score": score.total if score else None,
        "signals": dict(score.signals) if score else {},
        "score_version": score.version if score else None,
        "cost_usd": round(candidate.cost_usd, 8),
        "reused": bool(made and made.reused),
        "chosen": candidate.index == chosen,
    }


def pending_fields(cset: CandidateSet) -> dict[str, Any]:
    """The entry fields of an image awaiting review: its candidates, no choice yet."""
    record = cset.record or {}
    pick = {"mode": cset.job.pick, "chosen": None, "decision": record.get("decision", "pending"),
            "by": record.get("by"), "at": record.get("at"), "note": record.get("note"),
            "record_key": cset.record_key, "keep_candidates": cset.job.keep_candidates}  # fmt: skip
    return {"candidates": [_candidate_fields(c, None) for c in cset.candidates], "pick": pick}


class _Quiet:
    """The run, without progress events: a candidate is not an image of the run."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def emit(self, image_id: str, event: str) -> None:
        return None


def _stops_run(exc: BaseException) -> bool:
    return isinstance(exc, RunInterruptedError | BudgetExceededError) or is_abort(exc)


__all__ = [
    "AwaitingReview",
    "Candidate",
    "CandidateSet",
    "Picked",
    "annotate",
    "chosen_job",
    "gather",
    "generate_any",
    "pending_fields",
    "picked",
    "process_any",
    "record_choice",
    "score_original",
    "upload_any",
]
