"""Long batches go to a Prefect deployment, not a request handler.

A web request should not wait for a thousand images: validate the spec here
(so the caller hears about a typo at once), then ask Prefect to run the
``generate-media/adhoc`` deployment (``prefect.yaml``) and return the flow run
id; a worker does the work, and the Prefect UI shows its progress.
"""

from __future__ import annotations

from typing import Any

from mediagen.plan import trust
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec, spec_from_any

DEPLOYMENT = "generate-media/adhoc"


def batch_parameters(spec: JobSpec | dict[str, Any] | str) -> dict[str, Any]:
    """The deployment's parameters for ``spec``: validated, sent inline (the worker may
    not share this machine's files). Raises SpecError naming every problem, including
    storage this service does not allow (see mediagen.plan.trust)."""
    job_spec = spec_from_any(spec)
    # Specs from API callers are untrusted: only the storage this service's settings allow.
    trust.check_spec(job_spec, get_settings(), trusted=False)
    return {"spec": job_spec.model_dump(mode="json", exclude_none=True)}


def trigger_batch(
    spec: JobSpec | dict[str, Any] | str, *, deployment: str = DEPLOYMENT, **labels: str
) -> str:
    """Start a run of ``deployment`` for ``spec`` without waiting; returns the flow run id."""
    from prefect.deployments import run_deployment  # Prefect only when a batch is sent

    flow_run = run_deployment(
        name=deployment,
        parameters=batch_parameters(spec),
        timeout=0,  # return at once: the run is scheduled, a worker picks it up
        tags=["api", *(f"{k}:{v}" for k, v in sorted(labels.items()))],
    )
    return str(flow_run.id)
