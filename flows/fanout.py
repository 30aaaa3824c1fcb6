"""Fan the images out as task chains, a bounded window at a time, and stop cleanly.

Chains (generate → process → upload) are submitted as earlier ones finish, never
more than ``window`` at once. That keeps 1000-image runs from queueing 3000 task
runs up front, and it makes an interrupt simple: on Ctrl-C, SIGTERM (a worker's
cancel) or a cancel seen on the server, nothing new is submitted, the chains in
flight get the grace period (their generate step refuses to start a backend call
once interrupted, so only calls already paid for are waited on), and whatever is
still running after the grace is *abandoned*: recorded ``pending``, never shown
as a crashed task. Images never submitted have no task runs at all.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prefect.exceptions import TerminationSignal
from prefect.futures import PrefectFuture

from mediagen.engine import interrupts
from mediagen.engine.run import Run
from mediagen.plan.jobs import ImageJob

POLL_S = 0.25  # how often the wait loop looks at the interrupt flag
CANCEL_POLL_S = 5.0  # how often it asks the Prefect API whether the run is being cancelled

Chain = list[PrefectFuture[Any]]


@dataclass
class FanOut:
    """What happened to each image of the run."""

    chains: dict[str, tuple[ImageJob, Chain]] = field(default_factory=dict)  # all submitted
    finished: set[str] = field(default_factory=set)  # chains that ran to their end
    abandoned: set[str] = field(default_factory=set)  # still running after the grace
    not_submitted: list[ImageJob] = field(default_factory=list)
    interrupted: str | None = None  # why the run stopped early
    reraise: BaseException | None = None  # a signal exception to hand back to Prefect

    def done(self) -> dict[str, tuple[ImageJob, Chain]]:
        return {i: self.chains[i] for i in self.chains if i in self.finished}

    def pending(self) -> Iterable[tuple[ImageJob, str]]:
        """Images the run did not finish, with why."""
        for image_id in sorted(self.abandoned):
            yield self.chains[image_id][0], "abandoned in flight"
        for image_id, (job, _) in self.chains.items():
            if image_id not in self.finished and image_id not in self.abandoned:
                yield job, "not finished"
        for job in self.not_submitted:
            yield job, "not started"


def run_chains(
    jobs: list[ImageJob],
    submit: Callable[[ImageJob], Chain],
    run: Run,
    *,
    window: int,
    grace: float,
    on_finished: Callable[[PrefectFuture[Any]], None],
    cancel_requested: Callable[[], bool] | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
) -> FanOut:
    """Submit ``jobs`` as chains (``window`` in flight) and wait for them, or stop
    (when ``run`` is interrupted: a signal, a cancel on the server)."""
    out = FanOut()
    todo = deque(jobs)
    running: set[str] = set()
    finished: queue.SimpleQueue[str] = queue.SimpleQueue()
    next_cancel_check = time.monotonic() + CANCEL_POLL_S

    def collect(image_id: str) -> None:
        running.discard(image_id)
        out.finished.add(image_id)
        on_finished(out.chains[image_id][1][-1])

    try:
        with interrupts.owned_signals():
            while todo or running:
                if run.interrupted:
                    break
                while todo and len(running) < window:
                    job = todo.popleft()
                    chain = submit(job)
                    out.chains[job.id] = (job, chain)
                    running.add(job.id)
                    chain[-1].add_done_callback(lambda _, i=job.id: finished.put(i))
                with contextlib.suppress(queue.Empty):
                    collect(finished.get(timeout=POLL_S))
                if cancel_requested and time.monotonic() >= next_cancel_check:
                    next_cancel_check = time.monotonic() + CANCEL_POLL_S
                    if cancel_requested():
                        run.interrupt("cancelled on the Prefect server")
    except (TerminationSignal, KeyboardInterrupt) as exc:
        # A worker cancelling the run (SIGTERM), or Ctrl-C outside the CLI: stop like
        # the CLI does, write the partial manifest, then let Prefect see the signal.
        name = "SIGTERM" if isinstance(exc, TerminationSignal) else "SIGINT"
        run.interrupt(f"interrupted by {name}")
        out.reraise = exc
    out.interrupted = run.interrupted
    out.not_submitted = list(todo)
    if out.interrupted and running:
        if logger is not None:
            logger.warning(
                "%s: %d image(s) in flight get %g s to finish; %d not started",
                out.interrupted, len(running), grace, len(todo),
            )  # fmt: skip
        _drain(running, finished, collect, grace)
        out.abandoned = set(running)
    return out


def _drain(
    running: set[str],
    finished: queue.SimpleQueue[str],
    collect: Callable[[str], None],
    grace: float,
) -> None:
    """Collect chains that finish within ``grace`` seconds (or until a second signal)."""
    deadline = time.monotonic() + grace
    while running and not interrupts.hurried():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            collect(finished.get(timeout=min(left, POLL_S)))
        except queue.Empty:
            continue
        except (TerminationSignal, KeyboardInterrupt):
            return  # asked again: stop waiting


def cancel_requested_on_server() -> Callable[[], bool] | None:
    """A check for "this run is being cancelled" (the UI's Cancel, `prefect flow-run
    cancel`), for runs no worker supervises (``mediagen run`` against a server).

    None with the temporary local API: nobody else can reach it to cancel.
    """
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    run_id = flow_run.id
    if not run_id or not PREFECT_API_URL.value():
        return None

    def check() -> bool:
        try:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id).state
        except Exception:  # the API being slow or away is not a reason to stop
            return False
        return state is not None and state.is_cancelling()

    return check
