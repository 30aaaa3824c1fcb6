"""People's decisions about an image's candidates (``pick: review``), and a review pass.

The seam the review UIs (the Prefect form, ``mediagen review``) are built on, and
what a test drives with decisions written in code: :func:`decide` records one
decision (:class:`Decision`); :func:`apply_decisions` records many and makes each
image accordingly:

- ``approve`` candidate *i*: recorded (sticky: the pick record), then the image is
  made through the ordinary chain, which publishes candidate *i*;
- ``reject`` with a note: recorded, and the image is made again in this pass with
  the note appended to its prompt (new keys, new candidates): its candidates are
  generated and scored, and wait for the next decision (``regenerate`` holds the job);
- ``skip``, or no decision: nothing is recorded; the image stays ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from mediagen.engine.candidates import gather, record_choice
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import make_image
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry
from mediagen.plan.candidates import rekey
from mediagen.plan.jobs import ImageJob


@dataclass(frozen=True)
class Decision:
    """A person's decision about one image's candidates (``pick: review``)."""

    action: Literal["approve", "reject", "skip"]
    candidate: int | None = None  # approve: which candidate
    note: str = ""  # reject: appended to the prompt of the regenerated image
    by: str = ""  # who decided
    at: datetime | None = None  # when (default: now)


def decide(job: ImageJob, ctx: RunContext, run: Run, decision: Decision) -> ImageJob | None:
    """Record a person's decision about ``job``'s candidates.

    - ``approve``: the candidate is recorded as chosen; the next chain of ``job``
      (this run or any later one) publishes it. Returns ``job``.
    - ``reject``: recorded with its note; returns the job to make instead: the same
      image with the note appended to its prompt (new keys, new candidates).
    - ``skip``: nothing is recorded (the next run asks again); returns ``None``.
    """
    if decision.action == "skip":
        return None
    cset = gather(job, ctx, run)
    if decision.action == "approve":
        index = decision.candidate
        if index is None or not 0 <= index < len(cset.candidates):
            raise ValueError(f"image {job.id!r}: no candidate {index!r} to approve")
        if not cset.candidates[index].usable:
            raise ValueError(f"image {job.id!r}: candidate {index} could not be made")
        record_choice(run, ctx, cset, index, "approve", decision.by, decision.at)
        return job
    record_choice(run, ctx, cset, None, "reject", decision.by, decision.at, decision.note)
    return with_note(job, decision.note)


def with_note(job: ImageJob, note: str) -> ImageJob:
    """``job`` with a reviewer's note appended to its prompt (re-keyed: a new image)."""
    note = " ".join(note.split())
    if not note:
        return job
    return rekey(job, replace(job.request, prompt=f"{job.request.prompt}\n\nReviewer note: {note}"))


@dataclass
class Reviewed:
    """What a review pass made of each image."""

    entries: dict[str, ImageEntry] = field(default_factory=dict)  # by image id
    regenerate: dict[str, ImageJob] = field(default_factory=dict)  # rejected: the noted job


def apply_decisions(
    jobs: Iterable[ImageJob], ctx: RunContext, run: Run, decisions: Mapping[str, Decision]
) -> Reviewed:
    """Apply ``decisions`` (by image id) and make each image accordingly (see above)."""
    out = Reviewed()
    for job in jobs:
        decision = decisions.get(job.id)
        target = job
        if decision is not None and decision.action != "skip":
            made = decide(job, ctx, run, decision)
            if decision.action == "reject" and made is not None:
                target = out.regenerate[job.id] = made
        out.entries[job.id] = make_image(target, ctx, run)
    return out


__all__ = ["Decision", "Reviewed", "apply_decisions", "decide", "with_note"]
