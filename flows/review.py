"""``pick: review`` on a Prefect server: the run pauses with a typed form, a person answers.

The engine's loop (:mod:`mediagen.engine.review`) makes every candidate, then
asks; here asking is: publish the review page as a markdown artifact (each
image's candidates as thumbnails, presigned, with their scores), then
``pause_flow_run(wait_for_input=<form>)``. The form is a
:class:`~prefect.input.RunInput` built for the images in this round: one field
per image (its id) with ``action`` approve | reject | skip, the ``candidate``
number (bounded: the server refuses a number that was not shown) and a
``note``, plus ``reviewer`` (the name recorded with the decisions: an open-source
Prefect server does not know who pressed Resume). The Prefect UI renders it as
the Resume form; a script sends the same keys as ``run_input`` through
``resume_flow_run`` / ``POST /api/flow_runs/{id}/resume``.

**Pause, not suspend.** A paused run keeps its process: the spec's lease stays
held and renewed (no second run of the spec can start and publish meanwhile),
the candidates and rounds stay in memory, and it works for a ``mediagen run``
reporting to a server as well as for a deployment's run. Suspending frees the
worker slot, but only a deployment's run can suspend, the lease would be
released while it waits, and the run starts over on resume. Review waits for a
person, typically minutes; the pause times out after
``MEDIAGEN_REVIEW_TIMEOUT`` (default a day) and the images are recorded ``pending``
(asked next run).

Without a server that a person can reach (``mediagen run`` on its temporary
local API), the run does not pause: the images are recorded ``pending`` and
``mediagen review SPEC`` asks in the terminal.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field, create_model

from mediagen.engine.context import RunContext
from mediagen.engine.review import Answer, ReviewItem, review_images, wants_review
from mediagen.engine.review_artifact import review_markdown
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.jobs import ImageJob

POLL_S = 2  # how often the paused run asks the server whether it was resumed
REVIEWER_FIELD = "reviewer"


class ImageDecisionBase(BaseModel):
    """A reviewer's decision about one image (the fields of each image's form group)."""

    action: Literal["approve", "reject", "skip"] = Field(
        "skip",
        description="approve: publish the candidate below; reject: make new candidates with "
        "the note added to the prompt, and review again; skip: publish nothing",
    )
    note: str = Field("", max_length=500, description="For a rejection: what to change")


def input_form(items: list[ReviewItem]) -> type[RunInput]:
    """The typed form for ``items``: one group per image (keyed by its id), and the reviewer."""
    fields: dict[str, Any] = {
        "reviewer_": (
            str,
            Field(
                "",
                alias=_reviewer_key(items),
                max_length=100,
                title="Reviewer",
                description="Your name, recorded with the decisions",
            ),
        ),
    }
    for number, item in enumerate(items):
        shown = item.usable
        group = create_model(
            f"Decision{number}",
            __base__=ImageDecisionBase,
            candidate=(
                int,
                Field(
                    item.best(),
                    ge=min(shown),
                    le=max(shown),
                    description=f"The candidate to approve ({min(shown)}-{max(shown)})",
                ),
            ),
        )
        name = f"image_{number}_{re.sub(r'[^0-9A-Za-z_]', '_', item.id)}"
        fields[name] = (group, Field(default_factory=group, alias=item.id, title=item.id))
    return create_model("ReviewInput", __base__=RunInput, **fields)


def _reviewer_key(items: list[ReviewItem]) -> str:
    # An image may be called "reviewer": its group keeps the id, the name field moves.
    return REVIEWER_FIELD if all(i.id != REVIEWER_FIELD for i in items) else "reviewer-name"


def answers_from(form: BaseModel, items: list[ReviewItem]) -> dict[str, Answer]:
    """The form's values as the engine's answers (keyed by image id)."""
    values = form.model_dump(by_alias=True)
    reviewer = str(values.get(_reviewer_key(items)) or "").strip() or "prefect-ui"
    answers: dict[str, Answer] = {}
    for item in items:
        given = values[item.id]
        answers[item.id] = Answer(
            action=given["action"],
            candidate=int(given["candidate"]),
            note=str(given["note"]).strip(),
            reviewer=reviewer,
        )
    return answers


def can_ask() -> bool:
    """True when the run reports to a server a person can open (not a temporary local API)."""
    from prefect.settings import Settings

    return Settings().api.url is not None


def artifact_key(spec_name: str) -> str:
    """The review page's artifact key (lowercase letters, digits, dashes)."""
    return "review-" + (re.sub(r"[^a-z0-9-]+", "-", spec_name.lower()).strip("-") or "spec")


def ask_in_prefect(spec_name: str, timeout: int) -> Any:
    """The engine's ``ask`` for a paused flow run: artifact, then the typed pause."""

    def ask(items: list[ReviewItem], round_: int) -> dict[str, Answer]:
        logger = get_run_logger()
        create_markdown_artifact(
            markdown=review_markdown(spec_name, items, round_),
            key=artifact_key(spec_name),
            description=f"Candidates waiting for review (round {round_})",
        )
        logger.info(
            "Waiting for review of %d image(s): open this run in the Prefect UI, look at the "
            "'%s' artifact, and answer in the Resume form",
            len(items),
            artifact_key(spec_name),
        )
        try:
            form = pause_flow_run(
                wait_for_input=input_form(items),
                timeout=timeout,
                poll_interval=POLL_S,
                key=f"review-{round_}",
            )
        except FlowPauseTimeout:
            logger.warning("No review within %d s: the images wait for the next run", timeout)
            return {}
        answers = answers_from(form, items)
        for image_id, answer in answers.items():
            logger.info(
                "Review of %s by %s: %s%s",
                image_id,
                answer.reviewer,
                answer.action,
                f" candidate {answer.candidate}" if answer.action == "approve" else "",
            )
        return answers

    return ask


def not_asked(items: list[ReviewItem], round_: int) -> dict[str, Answer]:
    """No one can answer (a temporary local API): every image waits for ``mediagen review``."""
    get_run_logger().warning(
        "%d image(s) wait for review: run `mediagen review SPEC` (or run against a Prefect "
        "server to review in its UI)",
        len(items),
    )
    return {}


def review_todo(
    spec_name: str, todo: list[ImageJob], previous: Manifest | None, ctx: RunContext, run: Run
) -> dict[str, ImageEntry]:
    """Review the ``pick: review`` images of ``todo``; returns their manifest entries."""
    jobs = [job for job in todo if wants_review(job)]
    if not jobs:
        return {}
    ask = ask_in_prefect(spec_name, run.settings.review_timeout) if can_ask() else not_asked
    return review_images(jobs, previous, ctx, run, ask, via="prefect")


__all__ = [
    "answers_from",
    "artifact_key",
    "can_ask",
    "input_form",
    "review_todo",
    "wants_review",
]
