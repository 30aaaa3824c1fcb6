"""A reviewer's decision about an image (``pick: review``), as the manifest records it.

Each image that went through review carries a ``review`` record in its manifest
entry: who decided, when, how (the Prefect form, the terminal, or a decision
kept from an earlier run), what (approve candidate *i*, skip; the rejections on
the way with their notes) and which candidates were shown, with their scores.

An approval is sticky: the next run publishes the same candidate again without
asking, as long as the image is the same (``base_gen_key``: what the spec asks
for, before candidates and notes) and the candidate was made from the same
notes. A skip is not a decision to keep: the next run asks again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mediagen.manifest.model import ImageEntry

Action = Literal["approve", "reject", "skip"]
Via = Literal["prefect", "terminal", "kept"]


class CandidateRecord(BaseModel):
    """One candidate a reviewer saw."""

    index: int
    gen_key: str
    seed: int | None = None
    score: float | None = None  # brand fit (0-1), when the image has brand colours
    original_key: str | None = None


class Rejection(BaseModel):
    """A rejected round: the note was appended to the prompt and new candidates made."""

    candidate: int | None = None
    note: str
    reviewer: str
    decided_at: datetime


class ReviewRecord(BaseModel):
    """The decision about one image (``ImageEntry.review``)."""

    action: Action  # approve | skip: the last word (a reject is followed by a new round)
    candidate: int | None = None  # the approved candidate's index
    chosen_gen_key: str | None = None
    reviewer: str
    decided_at: datetime
    via: Via
    base_gen_key: str  # the image as the spec asks for it: the decision holds while it does
    notes: list[str] = Field(default_factory=list)  # appended to the prompt, oldest first
    rejections: list[Rejection] = Field(default_factory=list)
    candidates: list[CandidateRecord] = Field(default_factory=list)


def review_of(entry: ImageEntry | None) -> ReviewRecord | None:
    """The review record of a manifest entry (``None``: never reviewed, or unreadable)."""
    raw = (entry.model_extra or {}).get("review") if entry is not None else None
    if raw is None:
        return None
    try:
        return ReviewRecord.model_validate(raw)
    except ValidationError:
        return None  # written by another version: ask again rather than guess


def with_review(entry: ImageEntry, record: ReviewRecord) -> ImageEntry:
    """``entry`` carrying ``record`` (the entry model keeps extra fields)."""
    data = entry.model_dump(mode="json") | {"review": record.model_dump(mode="json")}
    return ImageEntry.model_validate(data)


def sticky_approval(entry: ImageEntry | None, base_gen_key: str) -> ReviewRecord | None:
    """An approval that still holds for the image asking ``base_gen_key``, if any."""
    record = review_of(entry)
    if record is None or record.action != "approve" or record.candidate is None:
        return None
    return record if record.base_gen_key == base_gen_key else None


__all__ = [
    "Action",
    "CandidateRecord",
    "Rejection",
    "ReviewRecord",
    "review_of",
    "sticky_approval",
    "with_review",
]
