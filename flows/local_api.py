"""A quiet temporary Prefect API for one ``mediagen run`` (when PREFECT_API_URL is unset).

Prefect's own ephemeral server shares the terminal with the command: Ctrl-C
reaches it too (a uvicorn traceback when it lands during start-up) and its
shutdown sometimes prints an SQLAlchemy ``CancelledError`` traceback after the
command's last line. This one runs the same app in its own session, so terminal
signals reach only ``mediagen``, with its output in
``$PREFECT_HOME/mediagen-local-api.log``, and start-up gives up as soon as the
run is interrupted.

Start-up: the API is the slowest part of a run's start (its process imports
Prefect's server and checks the database: ~4 s here). ``mediagen run`` starts it
with :func:`start_early` the moment its plan says there is work, and imports
Prefect and the flow while it comes up; :func:`local_api` then waits for it.
This module imports no Prefect at import time, so starting early costs nothing
(``bench/startup.py`` measures each part).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from mediagen.engine import interrupts
from mediagen.errors import RunInterruptedError

LOG_NAME = "mediagen-local-api.log"

logger = logging.getLogger("mediagen")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefect_home() -> Path:
    """Prefect's home as Prefect will read it, without importing Prefect's settings."""
    home = os.environ.get("PREFECT_HOME")
    return Path(home).expanduser() if home else Path.home() / ".prefect"


# The API process runs uvicorn, but first asks Linux to send it SIGTERM when the run's
# process dies: a ``mediagen run`` killed with SIGKILL (or OOM-killed) must not leave its
# API running for ever (its own session keeps the terminal's signals away from it).
# The parent's pid is checked after the request, for a parent that died before it.
# Linux sends the signal when the *thread* that started the API ends: ``mediagen run``
# starts it on its main thread, which lives as long as the run.
_SERVE = """
import os, signal, sys
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit(0)
del sys.argv[1]
sys.argv[0] = "uvicorn"
from uvicorn.main import main
main()
"""


def _start(port: int, log: Path, settings_env: dict[str, str]) -> subprocess.Popen[bytes]:
    spec = find_spec("prefect")  # where Prefect is, without importing it
    if spec is None or spec.origin is None:
        raise RuntimeError("Prefect is not installed")
    env = {
        # A run registers no block types: skipping it (and the import of every Prefect
        # collection it starts with, prefect-dask's Dask among them) takes ~0.5 s off the
        # API's start-up. Block.save() registers its own type; a user's setting wins.
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
        **os.environ,
        **settings_env,
        # as Prefect's own ephemeral server: no UI, ephemeral database handling
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(os.getpid()),
             "--app-dir", str(Path(spec.origin).parent.parent),
             "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal is for mediagen alone
        )  # fmt: skip


def _drain_prefect_workers(timeout: float = 3.0) -> None:
    """Send the logs and events still queued before the API goes away (not at exit,
    when they could only fail, noisily)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with suppress(Exception):
            worker.drain_all(timeout=timeout)


def _stop(proc: subprocess.Popen[bytes], wait: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``wait`` seconds (``wait=0``: SIGTERM, and return)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    if wait == 0:
        return
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Started:
    """A local API process started ahead of time (:func:`start_early`), not yet waited for."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, wait: float = 5.0) -> None:
        _stop(self.proc, wait)


def _launch(settings_env: dict[str, str] | None = None) -> Started:
    home = _prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    log = home / LOG_NAME
    port = _free_port()
    proc = _start(port, log, settings_env or {})
    return Started(proc, f"http://127.0.0.1:{port}/api", log)


def start_early() -> Started | None:
    """Start the local API now, without waiting for it or importing Prefect.

    None when ``PREFECT_API_URL`` is in the environment (a server is configured).
    A URL that only Prefect's profile names is seen later, by :func:`local_api`,
    which then stops this process unused. The process never outlives the command.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    started = _launch()
    # However the command ends (an error before the run, os._exit on an interrupt).
    atexit.register(started.stop, 1.0)
    interrupts.before_exit(lambda: _stop(started.proc, wait=1.0))
    return started


def _wait_healthy(started: Started, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while True:
            if interrupts.interrupted():
                raise RunInterruptedError("interrupted while the local Prefect API started")
            if started.proc.poll() is not None:
                raise RuntimeError(
                    f"the local Prefect API exited with code {started.proc.returncode}; "
                    f"see {started.log}"
                )
            try:
                if client.get(f"{started.url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local Prefect API did not start; see {started.log}")
            time.sleep(0.05)


@contextmanager
def local_api(early: Started | None = None) -> Iterator[str | None]:
    """Yield the URL of a temporary local API (None: PREFECT_API_URL is set, use it).

    ``early``: the process :func:`start_early` started for this command, used instead of
    starting one now (and stopped when the context ends, used or not).
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    if PREFECT_API_URL.value():
        if early is not None:
            early.stop(wait=1.0)
        yield None
        return
    # Settings made in this process (not in its environment) reach the server too.
    started = early or _launch(get_current_settings().to_environment_variables(exclude_unset=True))
    if early is None:
        atexit.register(started.stop, 1.0)  # as start_early does: reaped before the command ends
    # An interrupted command may leave with os._exit: the server must not outlive it.
    forget = interrupts.before_exit(lambda: _stop(started.proc, wait=1.0))
    try:
        _wait_healthy(started, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        logger.info("temporary local Prefect API at %s (its log: %s)", started.url, started.log)
        # No flow-run heartbeats: they tell a server that a run crashed, and this API
        # ends with the run. Prefect's heartbeat thread sleeps a second at a time, and
        # the end of every flow run waited for it (~0.5 s on average).
        updates = {PREFECT_API_URL: started.url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
        with temporary_settings(updates=updates):
            try:
                yield started.url
            finally:
                _drain_prefect_workers()
    finally:
        forget()
        # Asked to stop, not waited for (~0.25 s of shutdown): the run's report does not
        # need it; the exit hook reaps it before the command ends.
        started.stop(wait=0)
