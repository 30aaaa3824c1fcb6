"""The :class:`~mediagen.engine.run.Run` of each flow run, where its tasks find it.

Prefect tasks take picklable values only, so the Run cannot travel as a task
argument. The flow builds one Run per flow run and registers it here under the
run id (:func:`flow_run`); a task looks it up from its ``RunContext``
(:func:`run_for`). Keyed per run: two flow runs in one process (a web app calling
``run_spec`` twice at once, a deployment and the Python API) never share one.

A task in another process (a Dask worker) finds no Run here and builds its own
from the picklable context (:meth:`RunContext.new_run`), with that process's
settings; a worker keeps the Runs of its last few flow runs.

``local_options`` lets an in-process caller (``flows.run.run_flow``: the CLI, the
Python API) give the flow settings of its own (a client's key), listeners (the
CLI's progress bar) and a callback that receives the Run (the CLI asks it whether
the run was interrupted) without making them flow parameters: parameters are recorded
on the Prefect server, and a key must never be.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mediagen.engine import interrupts
from mediagen.engine.context import RunContext
from mediagen.engine.events import Listener
from mediagen.engine.run import Run
from mediagen.settings import Settings, get_settings

WORKER_RUNS = 4  # Runs a worker process keeps (one per recent flow run)


@dataclass(frozen=True)
class LocalOptions:
    settings: Settings | None = None
    listeners: tuple[Listener, ...] = ()
    on_run: Callable[[Run], object] | None = None


_local: ContextVar[LocalOptions | None] = ContextVar("mediagen_flow_local_options", default=None)
_lock = threading.Lock()
_runs: dict[str, Run] = {}  # this process's flow runs
_worker_runs: OrderedDict[str, Run] = OrderedDict()  # runs whose flow is in another process


@contextmanager
def local_options(
    settings: Settings | None = None,
    listeners: Sequence[Listener] = (),
    on_run: Callable[[Run], object] | None = None,
) -> Iterator[None]:
    """Flow runs started in this context use ``settings``, report to ``listeners`` and
    hand their Run to ``on_run``."""
    token = _local.set(LocalOptions(settings, tuple(listeners), on_run))
    try:
        yield
    finally:
        _local.reset(token)


def flow_settings() -> Settings:
    """The settings of a flow run starting here: the caller's, else the process's."""
    options = _local.get()
    return options.settings if options and options.settings else get_settings()


@contextmanager
def flow_run(ctx: RunContext, settings: Settings) -> Iterator[Run]:
    """The Run of the flow run ``ctx`` describes: registered for its tasks, handed to the
    command's signal guard (``mediagen run``), closed at the end."""
    run = ctx.new_run(settings)
    options = _local.get()
    for listener in options.listeners if options else ():
        run.subscribe(listener)
    if options and options.on_run:
        options.on_run(run)
    release = interrupts.own(run)
    with _lock:
        _runs[ctx.run_id] = run
    try:
        yield run
    finally:
        with _lock:
            if _runs.get(ctx.run_id) is run:
                del _runs[ctx.run_id]
        release()
        # An interrupted run may have left chains in flight (abandoned after the grace):
        # their backend calls were paid for, so their clients stay open to store the
        # answers; the process is usually about to exit anyway.
        if not run.interrupted:
            run.close()


def run_for(ctx: RunContext) -> Run:
    """The Run a task of ``ctx``'s flow run works for (built here in a worker process)."""
    with _lock:
        run = _runs.get(ctx.run_id) or _worker_runs.get(ctx.run_id)
        if run is not None:
            return run
        run = ctx.new_run(get_settings())
        _worker_runs[ctx.run_id] = run
        evicted = []
        while len(_worker_runs) > WORKER_RUNS:
            evicted.append(_worker_runs.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return run


def active(run_id: str) -> Run | None:
    """The Run of a flow run of this process, or None."""
    with _lock:
        return _runs.get(run_id)


__all__ = ["flow_run", "flow_settings", "local_options", "run_for"]
