"""A quiet temporary Prefect API for one ``mediagen run`` (when PREFECT_API_URL is unset).

Prefect's own ephemeral server shares the terminal with the command: Ctrl-C
reaches it too (a uvicorn traceback when it lands during start-up) and its
shutdown sometimes prints an SQLAlchemy ``CancelledError`` traceback after the
command's last line. This one runs the same app in its own session, so terminal
signals reach only ``mediagen``, with its output in
``$PREFECT_HOME/mediagen-local-api.log``, and start-up gives up as soon as the
run is interrupted.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import prefect
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_HOME,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    get_current_settings,
    temporary_settings,
)

from mediagen.engine import interrupts
from mediagen.errors import RunInterruptedError

LOG_NAME = "mediagen-local-api.log"

logger = logging.getLogger("mediagen")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **get_current_settings().to_environment_variables(exclude_unset=True),
        # as Prefect's own ephemeral server: no UI, ephemeral database handling
        "PREFECT_UI_ENABLED": "0",
        "PREFECT__SERVER_EPHEMERAL": "1",
        "PREFECT__SERVER_FINAL": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn",
             "--app-dir", str(Path(prefect.__file__).parent.parent),
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
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def local_api() -> Iterator[str | None]:
    """Yield the URL of a temporary local API (None: PREFECT_API_URL is set, use it)."""
    if PREFECT_API_URL.value():
        yield None
        return
    home = Path(PREFECT_HOME.value())
    home.mkdir(parents=True, exist_ok=True)
    log = home / LOG_NAME
    port = _free_port()
    proc = _start(port, log)
    url = f"http://127.0.0.1:{port}/api"
    # An interrupted command may leave with os._exit: the server must not outlive it.
    forget = interrupts.before_exit(lambda: _stop(proc, wait=1.0))
    try:
        deadline = time.monotonic() + PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        with httpx.Client(timeout=2) as client:
            while True:
                if interrupts.interrupted():
                    raise RunInterruptedError("interrupted while the local Prefect API started")
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"the local Prefect API exited with code {proc.returncode}; see {log}"
                    )
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the local Prefect API did not start; see {log}")
                time.sleep(0.1)
        logger.info("temporary local Prefect API at %s (its log: %s)", url, log)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _drain_prefect_workers()
    finally:
        forget()
        _stop(proc)
