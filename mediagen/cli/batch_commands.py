"""``mediagen batches``: a spec's batch jobs (list with spec, job, state, images, age; cancel).

The jobs come from the records in the spec's bucket (see
:mod:`mediagen.engine.batch_state`); their live state is asked of the backend
when its key is set (``--no-refresh`` shows the last state a run saw). A
cancelled job is handled by the next run of the spec as its ``batch.on_failure``
says (retry in a new job, make the images now, or record them failed).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from mediagen.cli.console import EXIT_BAD_INPUT, console, say, user_errors
from mediagen.cli.planning import SpecArg, load
from mediagen.settings import get_settings

batches = typer.Typer(
    name="batches",
    help="List or cancel a spec's batch jobs (delivery: batch).",
    no_args_is_help=True,
)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@batches.command("list")
def list_command(
    spec: SpecArg,
    refresh: Annotated[
        bool, typer.Option("--refresh/--no-refresh", help="Ask the backend for live states.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
) -> None:
    """The spec's batch jobs: spec, job, state, images, age."""
    with user_errors():
        from mediagen.engine import batch_admin  # the engine only when a command runs

        job_spec = load(spec)
        rows = batch_admin.list_jobs(job_spec, get_settings(), refresh=refresh)
    if as_json:
        print(json.dumps([row.__dict__ for row in rows], indent=1))
        return
    table = Table(title=f"Batch jobs of {job_spec.name}")
    for column in ("spec", "job", "state", "images", "age", "model", "note"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = row.job_state or row.state
        if row.state in ("collected", "failed"):
            state = f"{state} ({row.state})"
        table.add_row(row.spec, row.name, state, str(row.images), _age(row.age_s), row.model,
                      row.note)  # fmt: skip
    console.print(table)


@batches.command("cancel")
def cancel_command(
    spec: SpecArg,
    job: Annotated[str | None, typer.Argument(help="One job (batches/…); default: all.")] = None,
) -> None:
    """Cancel the spec's active batch jobs (or one of them)."""
    with user_errors():
        from mediagen.engine import batch_admin

        job_spec = load(spec)
        try:
            names = batch_admin.cancel_jobs(job_spec, get_settings(), job)
        except LookupError as exc:
            say(f"error: {exc.args[0]}")
            raise typer.Exit(EXIT_BAD_INPUT) from None
    for name in names:
        console.print(f"cancelled {name}")
    if not names:
        console.print("no active batch job")


__all__ = ["batches"]
