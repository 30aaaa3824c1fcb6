"""What a flow run left on the Prefect server: parameters, logs, task states, artifacts.

For tests whose claim is "a secret is recorded nowhere" and "the UI shows this":
they read back what the server stored, through Prefect's own client. The session's
API is the one ``PREFECT_API_URL`` names (the ``prefect_server`` fixture).
"""

from __future__ import annotations

import json
from typing import Any

from mediagen.manifest.model import Manifest


def _read(run_id: Any) -> tuple[Any, list[Any], list[Any], list[Any]]:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return run, artifacts, logs, tasks


def flow_run_texts(run_id: str) -> list[str]:
    """The flow run's parameters, artifacts, log lines and task states, as text."""
    run, artifacts, logs, tasks = _read(run_id)
    assert artifacts and logs and tasks
    return [
        json.dumps(run.parameters),
        *(f"{a.key} {a.data} {a.description}" for a in artifacts),
        *(log.message for log in logs),
        *(str(t.state) for t in tasks),
    ]


def server_side(manifest: Manifest) -> dict[str, Any]:
    """The flow run, its logs and artifacts, as stored on the Prefect server."""
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)  # logs go to the API in the background
    run, artifacts, logs, tasks = _read(manifest.run_id)
    return {
        "parameters": json.dumps(run.parameters),
        "artifacts": [str(a.data) + str(a.description) for a in artifacts],
        "logs": [log.message for log in logs],
        "tasks": [str(t.state.message if t.state else "") for t in tasks],
    }
