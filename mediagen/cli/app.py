"""The ``mediagen`` command (typer + rich): the Typer app and its commands, in help order.

Exit codes: 0 all good, 1 some images failed, 2 bad input (spec, settings,
arguments). Expected errors print one clear message, never a traceback.

The commands live by what they do: ``check_commands`` (validate, plan,
schema: read and show), ``publish_commands`` (run, delete: write the bucket),
``submit_command`` (a Prefect deployment), ``generate_command`` (one file),
``models`` (the model catalogue). ``mediagen.cli.app:main`` is the console entry
point (pyproject.toml), and ``python -m mediagen.cli.app`` runs it too.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import Annotated

import typer

from mediagen.cli import check_commands, generate_command, publish_commands, submit_command
from mediagen.cli import models as cli_models
from mediagen.cli.batch_commands import batches
from mediagen.cli.console import configure_logging
from mediagen.cli.review_command import review
from mediagen.cli.verify_command import verify

app = typer.Typer(
    name="mediagen",
    help="Turn declarative YAML image specs into published, on-brand images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    configure_logging(verbose)  # quiet without -v: see mediagen/cli/console.py
    # Telemetry cannot reach out from most CI and private networks; it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's 20 s default is too short for a busy 2-core machine starting its local API.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


app.command()(check_commands.validate)
app.command()(check_commands.plan)
app.command()(publish_commands.run)
app.command()(publish_commands.delete)
app.command()(submit_command.submit)
app.command()(check_commands.schema)
app.command()(generate_command.generate)
app.command()(cli_models.models)  # `mediagen models`: the model catalogue
app.command()(verify)  # `mediagen verify`: C2PA Content Credentials
app.add_typer(batches)  # `mediagen batches list|cancel SPEC`
app.command()(review)  # `mediagen review`: pick: review in the terminal (docs/review.md)


def main() -> None:  # pragma: no cover - console entry point (pyproject.toml)
    """``app()``, then leave without tearing the interpreter down.

    With Prefect, Pillow and an SDK loaded, Python's own finalization (collecting
    every object, unloading every module) took ~0.6 s after a run had ended and been
    reported: a fifth of a small run's budget (bench/startup.py). Threads are joined and
    the exit hooks run first: ``leave`` is registered before any other hook of the
    command, so it runs last; it flushes what could still be buffered, then exits.
    """
    status: list[int | None] = [None]  # None: an unexpected exception, leave as Python does
    atexit.register(_leave, status)
    try:
        app()
    except SystemExit as exc:
        code = exc.code
        status[0] = code if isinstance(code, int) else (0 if code is None else 1)
        raise


def _leave(status: list[int | None]) -> None:
    if status[0] is None:
        return
    logging.shutdown()  # registered at import, before this hook: it would not run
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":  # pragma: no cover
    main()
