"""The ``poll-batches`` flow: resume suspended ``generate-media`` runs whose batch jobs ended.

A ``generate-media`` run on a worker suspends while its batch jobs are pending
(:mod:`flows.batch_delivery`): its process exits and its worker slot is free.
This flow, run on a schedule (the ``poll-batches`` deployment in prefect.yaml,
every few minutes), is the only thing that runs meanwhile, for seconds: for each
suspended run it reads the run's spec parameter, the spec's job records in its
bucket and the jobs' states at the backend, and resumes the run when one of
them has ended (succeeded, failed, expired or cancelled). The resumed run
collects, publishes, and suspends again if anything is still pending.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows import run_registry
from mediagen.engine import batch_admin
from mediagen.plan import trust
from mediagen.spec.models import spec_from_any

FLOW_NAME = "generate-media"


def suspended_runs(limit: int) -> list[Any]:
    """The suspended runs of the generate-media flows, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return list(
            client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME, f"{FLOW_NAME}-dask"])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Suspended"]))
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=limit,
            )
        )


@flow(name="poll-batches", persist_result=False)
def poll_batches(limit: int = 100) -> list[str]:
    """Resume every suspended generate-media run one of whose batch jobs has ended."""
    from prefect.flow_runs import resume_flow_run

    logger = get_run_logger()
    settings = run_registry.flow_settings()
    resumed = []
    for run in suspended_runs(limit):
        spec = run.parameters.get("spec")
        try:
            trust.check_spec_source(spec, trusted=False)
            job_spec = spec_from_any(spec)
            trust.check_spec(job_spec, settings, trusted=False)
            ended = batch_admin.ended_jobs(job_spec, settings)
        except Exception as exc:  # one broken run must not stop the others being polled
            logger.warning("run %s: cannot poll its batch jobs: %s", run.name, exc)
            continue
        if ended:
            logger.info("run %s: %s ended; resuming it", run.name, ", ".join(ended))
            resume_flow_run(run.id)
            resumed.append(str(run.id))
    logger.info("%d suspended run(s) resumed", len(resumed))
    return resumed


__all__ = ["poll_batches", "suspended_runs"]
