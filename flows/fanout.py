"""Fan the images out as task runs, a bounded window at a time, and stop cleanly.

Each task run makes one or more whole images (``flows/image_tasks.py``). Task
runs are submitted as earlier images finish, never more than ``window`` images
in flight, so a 10,000-image run does not queue every task run up front. Images
are counted as they finish, one by one: a task run in this process reports each
image the moment it ends; a task run elsewhere (Dask) when it returns.

On Ctrl-C, SIGTERM (a worker's or runner's cancel) or a cancel seen on the server,
nothing new is submitted; the images in flight get the grace period (their
generate step refuses to start a backend call once interrupted, so only calls
already paid for are waited on, and an image that got its answer is processed
and published inside the task run it is in, with no further task run to start);
whatever is still running after the grace is *abandoned*: recorded ``pending``,
never shown as a crashed task. Images never submitted have no task runs at all.
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

from flows import image_tasks
from mediagen.engine import interrupts
from mediagen.engine.context import RunContext
from mediagen.engine.entries import failed_entry
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry
from mediagen.plan.jobs import ImageJob

POLL_S = 0.25  # how often the wait loop looks at the interrupt flag
CANCEL_POLL_S = 5.0  # how often it asks the Prefect API whether the run is being cancelled

Batch = list[ImageJob]
OnEntry = Callable[[ImageJob, ImageEntry], None]


@dataclass
class FanOut:
    """What happened to each image of the run."""

    entries: dict[str, ImageEntry] = field(default_factory=dict)  # images that ended
    submitted: dict[str, ImageJob] = field(default_factory=dict)  # all submitted
    abandoned: set[str] = field(default_factory=set)  # still running after the grace
    not_submitted: list[ImageJob] = field(default_factory=list)
    interrupted: str | None = None  # why the run stopped early
    reraise: BaseException | None = None  # a signal exception to hand back to Prefect

    def in_flight(self) -> int:
        return len(self.submitted) - len(self.entries)

    def pending(self) -> Iterable[tuple[ImageJob, str]]:
        """Images the run did not finish, with why."""
        for image_id in sorted(self.abandoned):
            yield self.submitted[image_id], "abandoned in flight"
        for image_id, job in self.submitted.items():
            if image_id not in self.entries and image_id not in self.abandoned:
                yield job, "not finished"
        for job in self.not_submitted:
            yield job, "not started"


def run_batches(
    groups: list[Batch],
    submit: Callable[[Batch], PrefectFuture[Any]],
    run: Run,
    ctx: RunContext,
    *,
    window: int,
    grace: float,
    on_entry: OnEntry,
    cancel_requested: Callable[[], bool] | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
) -> FanOut:
    """Submit ``groups`` (one task run each; ``window`` images in flight) and wait for
    their images, or stop (when ``run`` is interrupted: a signal, a cancel on the server)."""
    out = FanOut()
    todo = deque(groups)
    futures: dict[int, tuple[Batch, PrefectFuture[Any]]] = {}
    events: queue.SimpleQueue[tuple[ImageJob, ImageEntry] | int] = queue.SimpleQueue()
    next_cancel_check = time.monotonic() + CANCEL_POLL_S

    def record(job: ImageJob, entry: ImageEntry) -> None:
        if job.id not in out.entries:
            out.entries[job.id] = entry
            on_entry(job, entry)

    def handle(event: tuple[ImageJob, ImageEntry] | int) -> None:
        if isinstance(event, tuple):
            record(*event)
            return
        batch, future = futures.pop(event)
        for job, entry in _batch_entries(batch, future, ctx, run):
            record(job, entry)

    def report(job: ImageJob, entry: ImageEntry) -> None:
        events.put((job, entry))  # from a task's thread: handled in this one

    try:
        with image_tasks.reporting(ctx.run_id, report), interrupts.owned_signals():
            while todo or out.in_flight():
                if run.interrupted:
                    break
                while todo and (not out.in_flight() or out.in_flight() + len(todo[0]) <= window):
                    batch = todo.popleft()
                    out.submitted.update((job.id, job) for job in batch)
                    index = len(out.submitted)
                    futures[index] = (batch, submit(batch))
                    futures[index][1].add_done_callback(lambda _, i=index: events.put(i))
                with contextlib.suppress(queue.Empty):
                    handle(events.get(timeout=POLL_S))
                if cancel_requested and time.monotonic() >= next_cancel_check:
                    next_cancel_check = time.monotonic() + CANCEL_POLL_S
                    if cancel_requested():
                        run.interrupt("cancelled on the Prefect server")
            out.interrupted = run.interrupted
            if out.interrupted and out.in_flight():
                if logger is not None:
                    logger.warning(
                        "%s: %d image(s) in flight get %g s to finish; %d not started",
                        out.interrupted, out.in_flight(), grace, sum(map(len, todo)),
                    )  # fmt: skip
                _drain(out, events, handle, grace)
    except (TerminationSignal, KeyboardInterrupt) as exc:
        # A worker cancelling the run (SIGTERM), or Ctrl-C outside the CLI: stop like
        # the CLI does, write the partial manifest, then let Prefect see the signal.
        name = "SIGTERM" if isinstance(exc, TerminationSignal) else "SIGINT"
        run.interrupt(f"interrupted by {name}")
        out.reraise = exc
        out.interrupted = run.interrupted
        if out.in_flight():
            if logger is not None:
                logger.warning(
                    "%s: %d image(s) in flight get %g s to finish",
                    out.interrupted, out.in_flight(), grace,
                )  # fmt: skip
            with image_tasks.reporting(ctx.run_id, report):
                _drain(out, events, handle, grace)
    out.interrupted = run.interrupted
    out.not_submitted = [job for batch in todo for job in batch]
    out.abandoned = {i for i in out.submitted if i not in out.entries} if out.interrupted else set()
    return out


def _batch_entries(
    batch: Batch, future: PrefectFuture[Any], ctx: RunContext, run: Run
) -> list[tuple[ImageJob, ImageEntry]]:
    """The entries a finished task run returned; a task run that crashed (or never
    ran) leaves its images failed, or pending when the run was interrupted."""
    future.wait()  # done already: this only reads the final state, no API call
    state = future.state
    data: Any = None
    if state.is_final():
        with contextlib.suppress(Exception):
            data = state.result(raise_on_failure=False)
    entries = data if isinstance(data, dict) else {}
    out = [(job, entries[job.id]) for job in batch if isinstance(entries.get(job.id), ImageEntry)]
    if not run.interrupted:
        reason = f"make: {state.message or state.name}"
        out += [(job, failed_entry(job, ctx, reason)) for job in batch if job.id not in entries]
    return out


def _drain(
    out: FanOut,
    events: queue.SimpleQueue[Any],
    handle: Callable[[Any], None],
    grace: float,
) -> None:
    """Collect images that finish within ``grace`` seconds (or until a second signal)."""
    deadline = time.monotonic() + grace
    while out.in_flight() and not interrupts.hurried():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            handle(events.get(timeout=min(left, POLL_S)))
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
