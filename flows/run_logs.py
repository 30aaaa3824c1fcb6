"""mediagen's own log lines in the flow run's logs on the Prefect server (the UI).

Prefect sends only its own loggers (and ``get_run_logger()``) to the server;
the library logs to ``mediagen.*`` (offline fallback, retries, model
fallbacks, manifest warnings), which ended on a worker's stdout only.
:func:`install` gives the ``mediagen`` logger Prefect's API handler, for
records logged inside a flow or task run, at INFO and up, in every process
that imports the flows: the CLI's, a worker's flow-run process, and Dask's
worker processes (they import this package to run its tasks).

The console must not change: the CLI is quiet without ``-v``, and a worker's
stdout shows warnings. Lowering the ``mediagen`` logger to INFO would send
INFO lines to those handlers too, so the logger stops propagating and a
small handler passes each record up the tree only if the logger's level
before ours would have let it through. Whatever handlers and levels the CLI
(or an application) sets above ``mediagen`` keep working as before.

Secrets: mediagen's messages never carry credentials (errors are built from
codes and messages, and scrubbed); the server-bound copy is redacted once
more against every credential the process knows, as a second line of defence.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

from mediagen import backends, redaction
from mediagen.plan.jobs import ImageJob
from mediagen.settings import Settings, get_settings
from mediagen.spec.models import JobSpec
from mediagen.storage import credentials as storage_credentials

LOGGER = "mediagen"
# Our level for the logger: lets INFO through, and (being odd) tells our setting apart
# from one a user or a test made, which then rules what reaches the console.
OUR_LEVEL = logging.INFO - 1
REDACTED = "***"

_lock = threading.Lock()


class _InRun(logging.Filter):
    """Only records logged inside a flow or task run: the server files logs by run."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "flow_run_id", None):
            return True
        return FlowRunContext.get() is not None or TaskRunContext.get() is not None


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = redaction.redact(storage_credentials.redact(super().format(record)))
        for value in backends.configured_secrets(get_settings()):
            if len(value) >= 6:
                text = text.replace(value, REDACTED)
        return text


class _ServerHandler(APILogHandler):
    """Prefect's API handler, for mediagen's records inside runs."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.addFilter(_InRun())
        self.setFormatter(_Redacting())

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if multiprocessing.parent_process() is not None:
            # A Dask worker process can be stopped with the cluster before its next log
            # batch leaves: send mediagen's (few) lines from such processes at once.
            # (In a thread with an event loop it can't block: the batch then goes as usual.)
            with contextlib.suppress(Exception):
                self.flush()


class _AsBefore(logging.Handler):
    """Pass records up the logger tree as if ``mediagen`` propagated at its old level."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(level=logging.NOTSET)
        self._logger = logger

    def handle(self, record: logging.LogRecord) -> bool:
        parent = self._logger.parent
        if parent is None:
            return False
        if record.levelno >= self._threshold(record.name, parent):
            parent.callHandlers(record)
        return True

    def _threshold(self, name: str, parent: logging.Logger) -> int:
        """The level the record's logger would have had without us (0: already applied)."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None and logger is not self._logger:
            if logger.level != logging.NOTSET:
                return 0  # e.g. mediagen.storage.bucket set to DEBUG: that level decided
            logger = logger.parent
        # Our level stands in for NOTSET: the parent's effective level would have applied.
        # Any other level was set by someone else, and the logger applied it already.
        return parent.getEffectiveLevel() if self._logger.level == OUR_LEVEL else 0

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        self.handle(record)


def install() -> None:
    """Send mediagen's log records in runs to the Prefect server (idempotent)."""
    logger = logging.getLogger(LOGGER)
    with _lock:
        if logger.level == logging.NOTSET:
            logger.setLevel(OUR_LEVEL)
        if any(isinstance(h, _AsBefore) for h in logger.handlers):
            return
        logger.addHandler(_ServerHandler())
        logger.addHandler(_AsBefore(logger))
        logger.propagate = False


def backend_line(spec: JobSpec, jobs: list[ImageJob], settings: Settings) -> str:
    """Which backend this run uses, and why, for the run's logs.

    The worker decides (its settings and keys), not whoever submitted the spec,
    so the run says it, where the UI shows it.
    """
    backends = sorted({job.backend for job in jobs})
    if not backends:
        return "Backend: none needed (nothing to make)"
    named = spec.backend not in (None, "auto") or settings.backend != "auto"
    if named:
        return f"Backend: {', '.join(backends)}"
    if backends == ["offline"]:
        return (
            "Backend: offline, chosen automatically: no backend key where this run runs "
            "(procedural placeholder art, not AI)"
        )
    return f"Backend: {', '.join(backends)}, chosen automatically"
