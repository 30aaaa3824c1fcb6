"""Ctrl-C and SIGTERM during ``mediagen run``: stop cleanly, keep what was made, exit 130.

The first signal interrupts the runs the command owns (:meth:`Run.interrupt
<mediagen.engine.run.Run.interrupt>` of each run handed to the guard with :func:`own`):
no new image reaches the backend, the images already there get ``interrupt_grace`` seconds
to finish, and the flow writes a partial manifest (done images ``ok``, the rest
``pending``), so the next run resumes without paying twice. A second signal cuts
the grace short; a third exits at once.

A watchdog guarantees the process is gone ``grace + EXIT_MARGIN`` seconds after the
first signal, whatever hangs (a backend call that never returns, an API that does
not answer, worker threads the interpreter would join at exit): it prints what it
knows and leaves with ``os._exit``. Signals are handled, never raised as
``KeyboardInterrupt``, so no traceback reaches the terminal.

Only the main thread can own signal handlers; the flow calls :func:`owned_signals`
around its wait loop because Prefect's engine installs its own SIGTERM handler
while a flow runs.

Process-wide on purpose: OS signals go to a process, so the active
:class:`SignalGuard` is module state. What it interrupts is not: only the runs
handed to it (a run that starts after the signal is interrupted as it is handed over).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediagen.engine.run import Run

EXIT_CODE = 130  # the shell's code for "ended by SIGINT"; used for SIGTERM and cancels too
EXIT_MARGIN = 3.5  # seconds after the grace for writing the manifest and shutting down
SIGNALS = (signal.SIGINT, signal.SIGTERM)

Notify = Callable[[str], None]

_hurry = threading.Event()
_guard: SignalGuard | None = None
_before_exit: list[Callable[[], None]] = []


def hurried() -> bool:
    """True once a second signal asked to stop waiting for images in flight."""
    return _hurry.is_set()


def wait_hurry(timeout: float) -> bool:
    """Wait up to ``timeout`` s for a second signal; True if it came."""
    return _hurry.wait(timeout)


def before_exit(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` if :func:`exit_now` ends the process (stop a child server);
    returns a function that cancels it."""
    _before_exit.append(callback)
    return lambda: _before_exit.remove(callback) if callback in _before_exit else None


def exit_now(code: int = EXIT_CODE) -> None:
    """Leave at once: flush what was printed, skip joining threads still at the backend."""
    for callback in list(_before_exit):
        with suppress(Exception):
            callback()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


class SignalGuard:
    """While active, SIGINT and SIGTERM interrupt the run instead of killing the process."""

    def __init__(self, grace: float, notify: Notify) -> None:
        self.grace = grace
        self.notify = notify
        self.signals: list[str] = []
        self.final_lines: list[str] = []  # what the watchdog prints if it has to exit
        self._previous: dict[int, object] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._runs: list[Run] = []
        self._reason: str | None = None

    @property
    def interrupted(self) -> str | None:
        """The first signal's name (``SIGINT``), or None."""
        return self.signals[0] if self.signals else None

    @property
    def reason(self) -> str | None:
        """``interrupted by SIGINT`` once a signal came, else None."""
        return self._reason

    def own(self, run: Run) -> Callable[[], None]:
        """Interrupt ``run`` on the first signal (at once if it came already);
        returns a function that lets the run go."""
        with self._lock:
            self._runs.append(run)
            reason = self._reason
        if reason is not None:
            run.interrupt(reason)

        def release() -> None:
            with self._lock:
                if run in self._runs:
                    self._runs.remove(run)

        return release

    def __enter__(self) -> SignalGuard:
        global _guard
        _hurry.clear()
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self.handle)
        _guard = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _guard
        _guard = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def finished(self) -> None:
        """The command printed its last line: the watchdog has nothing left to say."""
        self._done.set()

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        name = signal.Signals(signum).name
        self.signals.append(name)
        if len(self.signals) == 1:
            with self._lock:
                self._reason = f"interrupted by {name}"
                runs = list(self._runs)
            for run in runs:
                run.interrupt(self._reason)
            self.notify(
                f"{name}: stopping; images already at the backend get {self.grace:g} s to "
                "finish, then a partial manifest is written (again: stop now)"
            )
            threading.Thread(target=self._watchdog, name="mediagen-exit", daemon=True).start()
        elif len(self.signals) == 2:
            _hurry.set()
            self.notify(f"{name}: not waiting for images in flight; they are left pending")
        else:
            exit_now()

    def _watchdog(self) -> None:
        if self._done.wait(self.grace + EXIT_MARGIN):
            # The command is done; give the interpreter a moment, then stop waiting for
            # threads that are still at the backend (their images are recorded pending).
            time.sleep(1.0)
            exit_now()
        for line in self.final_lines or ["stopped before the partial manifest was written"]:
            self.notify(line)
        exit_now()


def own(run: Run) -> Callable[[], None]:
    """Hand ``run`` to the command's signal guard, if one is active (``mediagen run``);
    returns a function that lets it go again."""
    guard = _guard
    return guard.own(run) if guard is not None else lambda: None


def interrupted() -> str | None:
    """Why the command was interrupted (a signal to its active guard), or None."""
    guard = _guard
    return guard.reason if guard is not None else None


@contextmanager
def owned_signals() -> Iterator[None]:
    """Inside a flow run by the CLI: SIGTERM interrupts like SIGINT (Prefect's engine
    replaced the CLI's handler with one that raises ``TerminationSignal``)."""
    guard = _guard
    if guard is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, guard.handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def record_final_lines(lines: list[str]) -> None:
    """What to print if the watchdog must exit before the command can (the summary)."""
    if _guard is not None:
        _guard.final_lines = list(lines)
