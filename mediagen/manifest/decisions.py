"""A reviewer's decision about an image (``pick: review``), as the manifest records it.

Each image that went through review carries a ``review`` record in its manifest
entry: who decided, when, how (the Prefect form, the terminal, or a decision
kept from an earlier run) and what (approve candidate *i*, or skip), with the
rejections on the way and their notes. The candidates shown, their scores and
the chosen one are the candidate model's ``candidates`` and ``pick`` fields of
the same entry (:mod:`mediagen.manifest.model`); the decisions themselves are
kept in the pick records in the bucket (:mod:`mediagen.engine.candidates`),
which is what makes an approval sticky (:mod:`mediagen.engine.review`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from mediagen.manifest.model import ImageEntry

Action = Literal["approve", "reject", "skip"]
Via = Literal["prefect", "terminal", "kept"]


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
    reviewer: str
    decided_at: datetime
    via: Via  # prefect (the Resume form), terminal (mediagen review), kept (an earlier run's)
    base_gen_key: str  # the image as the spec asks for it (before the notes)
    notes: list[str] = Field(default_factory=list)  # appended to the prompt, oldest first
    rejections: list[Rejection] = Field(default_factory=list)


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


__all__ = [
    "Action",
    "Rejection",
    "ReviewRecord",
    "review_of",
    "with_review",
]
