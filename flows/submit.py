"""Submit a validated spec to a deployment on a Prefect server, and follow the run.

The spec travels as its content (the ``spec`` parameter, a mapping), so the
worker needs no copy of the file, and the Prefect UI shows exactly what ran.
Callers validate the spec first (``mediagen submit`` does): a bad spec never
reaches the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import PREFECT_API_URL
from prefect.utilities.urls import url_for

from flows.artifacts import artifact_key
from mediagen.errors import ConfigurationError, OrchestrationError
from mediagen.plan import trust
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec

FLOW_NAME = "generate-media"
DEFAULT_DEPLOYMENT = "adhoc"
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Submitted:
    flow_run_id: UUID
    name: str
    deployment: str
    url: str | None


def deployment_name(name: str) -> str:
    """``adhoc`` → ``generate-media/adhoc``; a full ``FLOW/NAME`` is kept."""
    return name if "/" in name else f"{FLOW_NAME}/{name}"


def api_url() -> str:
    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigurationError(
            "mediagen submit needs a Prefect server: set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api after `prefect server start`)"
        )
    return str(url)


def jobs_to_submit(spec: JobSpec) -> list[ImageJob]:
    """The spec's images, checked as far as this machine can check them.

    The worker's run picks the backend (its settings and keys), so the
    submitter's do not count here: a spec that names a backend is checked
    against it; one that leaves it to ``auto`` is expanded as the offline
    renderer would take it, without a word about backends (the run's logs say
    which one it used).
    """
    if spec.backend in (None, "auto"):
        spec = spec.model_copy(update={"backend": "offline"})
    return expand_spec(spec, get_settings())


def submit_spec(spec: JobSpec, deployment: str = DEFAULT_DEPLOYMENT) -> Submitted:
    """Create a flow run of ``deployment`` with the spec's content as its parameter."""
    # The worker refuses storage its settings do not allow; say so before sending.
    trust.check_spec(spec, get_settings(), trusted=False)
    name = deployment_name(deployment)
    server = api_url()
    parameters = {"spec": spec.model_dump(mode="json", exclude_unset=True)}
    try:
        with get_client(sync_client=True) as client:
            found = client.read_deployment_by_name(name)
            run = client.create_flow_run_from_deployment(
                found.id, parameters=parameters, name=spec.name, tags=[f"spec:{spec.name}"]
            )
    except ObjectNotFound as exc:
        raise ConfigurationError(
            f"no deployment {name!r} on {server}; deploy them with "
            "`prefect --no-prompt deploy --all` from a mediagen checkout"
        ) from exc
    except PrefectHTTPStatusError as exc:
        raise OrchestrationError(f"the Prefect server at {server} refused the run: {exc}") from exc
    except httpx.HTTPError as exc:
        raise OrchestrationError(f"cannot reach the Prefect server at {server}: {exc}") from exc
    return Submitted(run.id, run.name, name, url_for(run))


def watch_run(
    flow_run_id: UUID,
    on_change: Callable[[FlowRun], None],
    timeout: float | None = None,
    poll: float = POLL_SECONDS,
) -> FlowRun:
    """Poll the run until its state is final (or ``timeout``); report each new state."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last: str | None = None
    try:
        with get_client(sync_client=True) as client:
            while True:
                run = client.read_flow_run(flow_run_id)
                state = run.state
                label = f"{state.type.value}:{state.name}" if state else "none"
                if label != last:
                    last = label
                    on_change(run)
                if state is not None and state.is_final():
                    return run
                if deadline is not None and time.monotonic() >= deadline:
                    return run
                time.sleep(poll)
    except httpx.HTTPError as exc:
        raise OrchestrationError(f"lost the Prefect server at {api_url()}: {exc}") from exc


def result_links(flow_run_id: UUID, spec_name: str) -> dict[str, str]:
    """The run's manifest and gallery URLs, from its link artifacts."""
    key = artifact_key(spec_name)
    wanted = {f"{key}-manifest": "manifest", f"{key}-gallery": "gallery"}
    try:
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                    key=ArtifactFilterKey(any_=list(wanted)),
                )
            )
    except httpx.HTTPError as exc:
        raise OrchestrationError(f"lost the Prefect server at {api_url()}: {exc}") from exc
    links: dict[str, str] = {}
    for artifact in artifacts:
        data = str(artifact.data or "")  # a link artifact is stored as "[text](url)"
        links[wanted[artifact.key or ""]] = (
            data[data.rfind("](") + 2 : -1] if "](" in data else data
        )
    return links
