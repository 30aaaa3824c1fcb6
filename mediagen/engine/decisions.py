"""A review pass in code: apply people's decisions to images with ``pick: review``.

The seam the review UIs (the Prefect form, ``mediagen review``) are built on, and
what a test drives with decisions written in code. For each image:

- ``approve`` candidate *i*: recorded (sticky: the pick record), then the image is
  made through the ordinary chain, which publishes candidate *i*;
- ``reject`` with a note: recorded, and the image is made again in this pass with
  the note appended to its prompt (new keys, new candidates): its candidates are
  generated and scored, and wait for the next decision (``regenerate`` holds the job);
- ``skip``, or no decision: nothing is recorded; the image stays ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mediagen.engine.candidates import Decision, decide
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import make_image
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob


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


__all__ = ["Decision", "Reviewed", "apply_decisions"]
