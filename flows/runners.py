"""Task runners: threads in this process, or a Dask cluster (prefect-dask).

The flow is the same either way; only where its tasks run changes. Tasks carry
small picklable values (jobs, keys, a ``RunContext``) and find their run's
:class:`~mediagen.engine.run.Run` in whichever process runs them (a Dask worker
builds its own from the context, see ``flows/run_registry.py``), so nothing
unpicklable ever crosses to a Dask worker.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from mediagen.errors import ConfigurationError
from mediagen.settings import get_settings

RUNNERS: tuple[str, ...] = ("thread", "dask")


def task_runner_for(
    kind: str | None = None,
    concurrency: int | None = None,
    *,
    dask_address: str | None = None,
    dask_workers: int | None = None,
) -> TaskRunner:
    """The task runner for ``kind`` (default: the ``MEDIAGEN_RUNNER`` setting).

    ``thread``: a bounded thread pool: one thread per task run in flight (the fan-out
    keeps at most twice ``concurrency`` + one task run's images in flight; a task run
    of several images runs them on a pool of its own, ``flows/image_tasks.py``).
    ``dask``: an existing cluster at ``dask_address`` (``MEDIAGEN_DASK_ADDRESS``),
    or a local cluster of ``dask_workers`` worker processes started for the run.
    """
    settings = get_settings()
    kind = kind or settings.runner
    limit = concurrency or settings.concurrency
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=2 * limit + 2)
    if kind != "dask":
        raise ConfigurationError(f"unknown runner {kind!r}; use one of: {', '.join(RUNNERS)}")
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ConfigurationError(
            f"the dask runner needs prefect-dask ({exc}): pip install 'mediagen[dask]'"
        ) from exc
    address = dask_address or settings.dask_address
    if address:
        return DaskTaskRunner(address=address)
    workers = dask_workers or settings.dask_workers
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "processes": True,
            # Images in flight across the cluster ≈ the run's concurrency.
            "threads_per_worker": max(1, math.ceil(limit / workers)),
            "dashboard_address": None,
            "host": "127.0.0.1",
        }
    )


@contextmanager
def api_reachable_by_workers(kind: str | None = None) -> Iterator[None]:
    """Make sure tasks in other processes report to the flow's own Prefect API.

    Without ``PREFECT_API_URL`` a flow uses an ephemeral API that lives inside
    its process; a Dask worker would start one of its own and record its task
    runs there. So for ``dask`` the ephemeral server is started up front and
    its address put in the settings that Prefect hands to every task.
    """
    kind = kind or get_settings().runner
    if kind != "dask" or PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the same singleton Prefect's ephemeral client uses
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
