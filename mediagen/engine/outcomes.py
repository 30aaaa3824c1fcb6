"""What became of an image, and of a run: one classification for every executor.

- :class:`Stopped`: an image the run stopped before making (abort, budget,
  interrupt), passed down the chain as a value, so a bad key or an exhausted
  budget gives one message for the run instead of three failed stages per image.
- :class:`StageState`: how one stage ended, whatever ran it (a direct call, a
  thread, a Prefect task); :func:`image_outcome` turns a chain's states into the
  image's manifest entry, naming the first stage that failed.
- :func:`summarize`: the run's failures as the reports show them: one line per
  image that failed on its own, one count for the images an abort, the budget or
  an interrupt stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mediagen.engine.candidates import AwaitingReview
from mediagen.engine.context import Generated, RunContext
from mediagen.engine.entries import failed_entry, is_abort
from mediagen.errors import BudgetExceededError, RunInterruptedError
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.jobs import ImageJob
from mediagen.reasons import short_reason

STAGES = ("generate", "process", "upload")


@dataclass(frozen=True)
class Stopped:
    """An image the run stopped before making: passed down the chain, recorded at its end."""

    status: str  # failed | skipped | pending
    error: str
    aborted: bool = False  # stopped by the run's abort (a refused key or setting)
    # Entry fields to keep (an image awaiting review: its scored candidates).
    fields: dict[str, Any] = field(default_factory=dict)


def stopped(stage: str, error: BaseException) -> Stopped | None:
    """The :class:`Stopped` an error of ``stage`` means, or None for an image's own failure."""
    if isinstance(error, AwaitingReview):  # its candidates are made: a person decides next
        return Stopped("pending", f"{stage}: {error}", fields=error.fields)
    if isinstance(error, RunInterruptedError):  # Ctrl-C / cancel before its backend call
        return Stopped("pending", f"{stage}: {error}")
    if is_abort(error):
        return Stopped("failed", f"{stage}: {short_reason(error)}", aborted=True)
    if isinstance(error, BudgetExceededError):
        return Stopped("skipped", f"{stage}: {short_reason(error)}")
    return None


def stopped_entry(job: ImageJob, ctx: RunContext, stop: Stopped) -> ImageEntry:
    entry = failed_entry(job, ctx, stop.error, status=stop.status, aborted=stop.aborted)
    if stop.fields:
        entry = ImageEntry.model_validate(entry.model_dump() | stop.fields)
    return entry


@dataclass(frozen=True)
class StageState:
    """How one stage ended: ``completed`` with its ``value``, ``failed`` with its ``error``
    (an exception, or only a ``message``), or neither (did not run or finish: ``name``)."""

    completed: bool = False
    value: Any = None
    failed: bool = False
    error: BaseException | None = None
    message: str = ""
    name: str = ""


def image_outcome(job: ImageJob, ctx: RunContext, states: list[StageState]) -> ImageEntry:
    """The upload's entry, or a failed entry naming the first stage that failed."""
    last = states[-1]
    if last.completed and isinstance(last.value, ImageEntry):
        return last.value
    first = states[0]
    made = first.value if first.completed and isinstance(first.value, Generated) else None
    for stage, state in zip(STAGES, states, strict=False):
        if not state.failed:
            continue
        error = state.error
        if isinstance(error, RunInterruptedError):  # e.g. its alt text was not asked
            return failed_entry(job, ctx, f"{stage}: {error}", status="pending")
        if error is not None:
            entry = failed_entry(job, ctx, error, generated=made)  # its cost stays with it
            return entry.model_copy(update={"error": f"{stage}: {entry.error}"})
        return failed_entry(job, ctx, f"{stage}: {state.message}")
    return failed_entry(job, ctx, f"did not finish: {last.name or 'not run'}")


@dataclass
class RunSummary:
    """A finished run's failures, grouped the way the reports print them."""

    aborted: int = 0  # images the run's abort stopped (one line for the run)
    skipped: int = 0  # the budget ran out
    pending: int = 0  # interrupted: the next run makes them
    failures: list[ImageEntry] = field(default_factory=list)  # one line each


def summarize(manifest: Manifest) -> RunSummary:
    """Group the manifest's failures: each image failed on its own, or the run stopped it."""
    out = RunSummary()
    for entry in manifest.failed():
        if entry.status == "skipped":
            out.skipped += 1
        elif entry.status == "pending":
            out.pending += 1
        elif manifest.run_aborted and entry.aborted:
            out.aborted += 1
        else:
            out.failures.append(entry)
    return out


__all__ = [
    "STAGES",
    "RunSummary",
    "StageState",
    "Stopped",
    "image_outcome",
    "stopped",
    "stopped_entry",
    "summarize",
]
