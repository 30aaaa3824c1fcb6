"""Run the flow in this process and hand back the manifest (CLI and Python API)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flows.generate_media import generate_media
from flows.plan_handoff import Planned, handed
from flows.quoting import Quoted
from flows.run_registry import local_options
from flows.runners import api_reachable_by_workers, task_runner_for
from mediagen.engine.events import Listener
from mediagen.engine.run import Run
from mediagen.manifest.model import Manifest
from mediagen.settings import Settings, get_settings
from mediagen.spec.models import JobSpec, spec_from_any


def run_flow(
    spec: JobSpec | dict[str, Any] | str,
    concurrency: int | None = None,
    *,
    runner: str | None = None,
    dask_address: str | None = None,
    settings: Settings | None = None,
    listeners: Sequence[Listener] = (),
    on_run: Callable[[Run], object] | None = None,
    planned: Planned | None = None,
) -> Manifest:
    """Run ``generate-media`` locally; returns the manifest it wrote (even with failures).

    ``runner`` is ``thread`` (default, or the ``MEDIAGEN_RUNNER`` setting) or
    ``dask`` (an existing cluster at ``dask_address``, else a local one).
    ``settings``: the run's settings instead of the process's (a client's key and
    backend; never sent to the Prefect server; Dask workers use their own).
    ``listeners``: called with ``(image_id, event)`` as images progress (a progress bar).
    ``on_run``: called with the flow run's :class:`~mediagen.engine.run.Run` once it exists
    (e.g. to ask afterwards whether it was interrupted).
    ``planned``: the caller's plan of ``spec`` (``mediagen run``), which the flow takes
    instead of planning again while it is still valid (:mod:`flows.plan_handoff`).
    """
    job_spec = spec_from_any(spec)
    chosen = settings or get_settings()
    limit = concurrency or job_spec.concurrency or chosen.concurrency
    task_runner = task_runner_for(runner, limit, dask_address=dask_address)
    with (
        api_reachable_by_workers(runner),
        local_options(settings, listeners, on_run),
        handed(planned),
    ):
        state = generate_media.with_options(task_runner=task_runner)(
            spec=job_spec.model_dump(mode="json"), concurrency=limit, return_state=True
        )
    data = state.result(raise_on_failure=False)
    if isinstance(data, Quoted):  # the flow hands its manifest back quoted (flows/quoting.py)
        data = data.unquote()
    # Prefect's log and event workers keep the finished run's context (flow run, final
    # state, result) referenced: without this, a process that runs flow after flow (the
    # Python API, a service) would keep every run's manifest alive (issue 15).
    state.data = None
    if isinstance(data, BaseException):
        raise data
    return Manifest.model_validate(data)
