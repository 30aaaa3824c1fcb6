"""What the ``mediagen`` command prints: quiet by default, everything with ``-v``.

Without ``-v`` the terminal gets the command's own lines (a summary, one line
per failed image, one line for an aborted run) and mediagen's warnings, one line
each; never a traceback, never Prefect's log records. Those still reach the
Prefect API (the run's logs in the UI): only the console is filtered, not the
loggers, so the API log handlers Prefect and mediagen attach keep working.
With ``-v`` everything is shown, tracebacks included.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from mediagen.errors import (
    BudgetExceededError,
    ConfigurationError,
    MediagenError,
    SpecBusyError,
    SpecError,
)

console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class QuietHandler(RichHandler):
    """mediagen's own warnings, one line each: no traceback, nothing from other loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "mediagen" or record.name.startswith("mediagen.")
        return own and record.levelno >= logging.WARNING and super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        # A copy: the same record goes on to other handlers (the API's) unchanged.
        record = copy.copy(record)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        super().emit(record)


def configure_logging(verbose: bool) -> None:
    """Console logging for the command; Prefect keeps its own (API) handlers."""
    handler_class = RichHandler if verbose else QuietHandler
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[handler_class(console=err, show_path=False, show_time=False)],
        force=True,
    )
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    if not verbose:
        # Prefect's console handler, wherever its config still uses it; its API handler
        # is another handler and keeps its level.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def say(message: str) -> None:
    """One line on stderr, as typed (no markup, no highlighting)."""
    err.print(message, highlight=False, markup=False, soft_wrap=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Expected errors → one message, no traceback; exit 2 for bad input, 1 otherwise."""
    try:
        yield
    except SpecError as exc:
        say(f"error: {exc.args[0]}")
        for problem in exc.problems if exc.problems != [exc.args[0]] else []:
            say(f"  - {problem}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except FileNotFoundError as exc:
        say(f"error: no such file: {exc.filename or exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (ConfigurationError, BudgetExceededError, SpecBusyError) as exc:
        say(f"error: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except MediagenError as exc:  # the run itself failed (storage, backend): not bad input
        say(f"error: {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_FAILED) from None


def formats_cell(item: Any) -> str:
    """'jpeg,avif (7 files)': each format once, and the file count when renditions add some."""
    formats = ",".join(dict.fromkeys(o.format for o in item.outputs)) or getattr(item, "format", "")
    return f"{formats} ({len(item.outputs)} files)" if len(item.outputs) > 1 else formats


def brand_cell(score: float | None, off_brand: bool) -> str:
    if score is None:
        return ""
    return f"{score:.0%} OFF-BRAND" if off_brand else f"{score:.0%}"
