"""``mediagen review SPEC``: review the ``pick: review`` images in the terminal, then publish.

The same loop as a paused Prefect run (:mod:`mediagen.engine.review`), with the
terminal as the form: for each image a table of its candidates (number, score
and its signals, seed, where to look at it: a presigned URL for a private bucket, a file
path for a local folder), then one answer: ``a [N]`` approve candidate N (the
best by default), ``r NOTE`` reject with a note (new candidates are made with
the note added to the prompt, and shown again), ``s`` skip. The spec's other
images are made as ``mediagen run`` makes them; everything lands in one
manifest, decisions included (who: ``--reviewer``, else the OS user).

No Prefect here: the engine runs in this process, under the spec's lease.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.prompt import Prompt
from rich.table import Table

from mediagen.cli.console import EXIT_FAILED, EXIT_OK, console, user_errors
from mediagen.cli.planning import IfRunning, SpecArg, hold_lease, load, plan_spec
from mediagen.settings import get_settings

if TYPE_CHECKING:  # the engine is imported when a review runs, not when the CLI starts
    from mediagen.engine.review import Answer, ReviewItem

HELP = "a [N]: approve candidate N (default: the best) · r NOTE: reject, regenerate · s: skip"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def show(item: ReviewItem) -> None:
    """One image's candidates, as a table."""
    table = Table(title=f"{item.id}: {item.job.subject}", title_justify="left")
    for column in ("#", "score", "signals", "seed", "look at it"):
        table.add_column(column, overflow="fold")
    best = item.best()
    for c in item.shown:
        score = "n/a" if c.score is None else f"{c.score:.2f}"
        mark = " (best)" if c.index == best and len(item.shown) > 1 else ""
        signals = ", ".join(f"{k} {v:.2f}" for k, v in sorted(c.signals.items()))
        seed = "" if c.seed is None else str(c.seed)
        table.add_row(f"{c.index}{mark}", score, signals, seed, c.url or f"not made: {c.error}")
    console.print(table)
    if item.notes:
        console.print("notes so far: " + "; ".join(item.notes), highlight=False, markup=False)


def parse_answer(text: str, item: ReviewItem) -> Answer | str:
    """An :class:`Answer` from a typed line, or why the line is not one."""
    from mediagen.engine.review import Answer

    word, _, rest = text.strip().partition(" ")
    word, rest = word.lower(), rest.strip()
    shown = set(item.usable)
    if word in ("a", "approve"):
        if not rest:
            return Answer("approve", item.best())
        if not rest.isdigit() or int(rest) not in shown:
            return f"no candidate {rest!r}: choose one of {sorted(shown)}"
        return Answer("approve", int(rest))
    if word in ("r", "reject"):
        return Answer("reject", item.best(), note=rest) if rest else "a rejection needs a note"
    if word in ("s", "skip"):
        return Answer("skip")
    return f"not an answer: {text.strip()!r} ({HELP})"


def terminal_ask(reviewer: str):  # type: ignore[no-untyped-def]
    """The engine's ``ask``: each image's table, then a prompt until the answer is valid."""

    from mediagen.engine.review import Answer

    def ask(items: list[ReviewItem], round_: int) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        if round_ > 1:
            console.print(f"[bold]round {round_}[/]: new candidates for the rejected image(s)")
        for item in items:
            show(item)
            while True:
                try:
                    text = Prompt.ask(f"{item.id} [dim]({HELP})[/]", console=console)
                except EOFError:  # input closed: the rest wait for the next review
                    return answers
                parsed = parse_answer(text, item)
                if isinstance(parsed, Answer):
                    break
                console.print(f"[red]{parsed}[/]", highlight=False)
            answers[item.id] = Answer(
                parsed.action, parsed.candidate, parsed.note, reviewer, datetime.now(UTC)
            )
        return answers

    return ask


def review(
    ctx: typer.Context,
    spec: SpecArg,
    reviewer: Annotated[
        str | None,
        typer.Option(help="Your name in the manifest's decisions (default: the OS user)."),
    ] = None,
    if_running: Annotated[
        IfRunning | None,
        typer.Option(help="If the spec is running elsewhere: wait for it (default) or exit 2."),
    ] = None,
) -> None:
    """Review the candidates of `pick: review` images here, then publish (no Prefect)."""
    from mediagen.cli.run import signal_guard

    with signal_guard():
        _review(ctx, spec, reviewer or _os_user(), if_running)


def _review(ctx: typer.Context, spec: Path, reviewer: str, if_running: IfRunning | None) -> None:
    from mediagen.cli.run import print_summary
    from mediagen.engine.context import RunContext
    from mediagen.engine.finalize import finalize
    from mediagen.engine.orchestrate import run_images
    from mediagen.engine.review import review_images, wants_review
    from mediagen.plan import preflight
    from mediagen.plan.jobs import prefix_of

    settings = get_settings()
    with user_errors():
        job_spec = load(spec)
        hold_lease(ctx, job_spec, if_running)
        the_plan, bucket, previous = plan_spec(job_spec)
        preflight.check_run(job_spec, the_plan, settings)
    waiting = [job for job in the_plan.todo if wants_review(job)]
    others = [job for job in the_plan.todo if not wants_review(job)]
    console.print(
        f"[bold]{job_spec.name}[/]: {len(waiting)} image(s) to review, {len(others)} to make"
    )
    run_ctx = RunContext.for_spec(
        job_spec, settings, run_id=f"review-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    )
    with user_errors(), run_ctx.new_run(settings) as run:
        results = run_images(others, run_ctx, run, workers=run_ctx.concurrency)
        results |= review_images(
            waiting, previous, run_ctx, run, terminal_ask(reviewer), via="terminal"
        )
        manifest = finalize(run_ctx, the_plan, results, previous, run)
    print_summary(manifest, bucket, prefix_of(job_spec))
    raise typer.Exit(EXIT_FAILED if manifest.failed() else EXIT_OK)


__all__ = ["parse_answer", "review", "terminal_ask"]
