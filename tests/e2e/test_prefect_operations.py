"""Operating mediagen on a real Prefect server: schedules, Dask, logs, the typed parameter.

The session's server, deployments (`prefect deploy --all` of prefect.yaml) and
worker come from tests/support/prefect_server.py. Each test asks the server
what an operator would look at in the UI: upcoming runs, run states, the run's
logs, the deployment's parameter schema.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import yaml

from mediagen.testing.s3 import SLOWDOWN, FaultSchedule, S3TestServer
from tests.support.paths import REPO
from tests.support.prefect_server import (
    E2E_BUCKET,
    WORKER_AWS_SECRET,
    Server,
    Worker,
    s3_spec,
    tail,
)

LOG_TIMEOUT = 60  # for a run's last log batch to reach the server, on a loaded machine
SCHEDULER_TIMEOUT = 90  # the scheduler loops every 2 s here; generous for a loaded machine
THREE = [{"id": f"pic-{n}", "prompt": f"a savings jar, number {n}"} for n in range(3)]


def create_run(server: Server, deployment: str, parameters: dict[str, Any] | None = None) -> UUID:
    with server.client() as client:
        found = client.read_deployment_by_name(f"generate-media/{deployment}")
        return client.create_flow_run_from_deployment(found.id, parameters=parameters).id


def manifest_of(s3: S3TestServer, prefix: str) -> dict[str, Any]:
    body = s3.client().get_object(Bucket=E2E_BUCKET, Key=f"{prefix}/manifest.json")["Body"]
    return json.loads(body.read())


# -- 2. the schedule fires -------------------------------------------------------------


def test_the_monthly_schedule_has_upcoming_runs_and_a_run_of_it_completes(
    prefect_api: Server, deployed: Path, worker: Worker
) -> None:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    # A run of the deployment now ("Quick run" in the UI) for the worker, while the
    # scheduler fills the Upcoming tab.
    quick_run = create_run(prefect_api, "monthly-goal-images")
    with prefect_api.client() as client:
        monthly = client.read_deployment_by_name("generate-media/monthly-goal-images")
        upcoming: list[Any] = []
        deadline = time.monotonic() + SCHEDULER_TIMEOUT
        while len(upcoming) < 3:
            assert time.monotonic() < deadline, f"the scheduler made {len(upcoming)} run(s)" + tail(
                prefect_api.home / "server.log"
            )
            time.sleep(1)
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[monthly.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])
                    )
                ),
            )
            upcoming = [r for r in runs if r.auto_scheduled]  # made by the scheduler
    # What the UI's Upcoming tab lists: future runs at 06:00 London time on the 1st.
    now = datetime.now(UTC)
    for run in upcoming:
        assert run.expected_start_time > now
        local = run.expected_start_time.astimezone(ZoneInfo("Europe/London"))
        assert (local.day, local.hour, local.minute) == (1, 6, 0), local
        assert run.parameters == {"spec": "specs/examples/batch-goals.yaml"}
    assert len({r.expected_start_time for r in upcoming}) == len(upcoming)

    run = prefect_api.wait_for_run(quick_run)
    assert run.state.is_completed(), f"{run.state!r}" + tail(worker.log)
    manifest = json.loads((worker.bucket_dir / "batch-goals" / "manifest.json").read_text())
    assert manifest["run_id"] == str(run.id)
    assert len(manifest["images"]) == 8  # 4 goals x 2 themes
    assert {e["status"] for e in manifest["images"].values()} == {"ok"}


# -- 3. the Dask deployment runs -------------------------------------------------------


def test_adhoc_dask_completes_with_the_same_manifest_as_adhoc(
    prefect_api: Server, worker: Worker, e2e_s3: S3TestServer
) -> None:
    # One spec, two deployments, two prefixes; both runs at once (the worker runs each
    # in its own process). The first PUT of the Dask run (an original, stored by a task
    # on a Dask worker process) gets one busy answer: its retry line must reach the UI.
    e2e_s3.faults = FaultSchedule(
        [SLOWDOWN], methods=["PUT"], path_contains="/adhoc-dask/_originals/"
    )
    started = {}
    for deployment in ("adhoc", "adhoc-dask"):
        spec = s3_spec("e2e-dask", e2e_s3.endpoint_url, THREE, backend="offline")
        spec["storage"]["prefix"] = f"e2e-dask/{deployment}"
        started[deployment] = (spec, create_run(prefect_api, deployment, {"spec": spec}))
    outcomes = {}
    for deployment, (spec, run_id) in started.items():
        run = prefect_api.wait_for_run(run_id)
        assert run.state.is_completed(), f"{deployment}: {run.state!r}" + tail(worker.log)
        manifest = manifest_of(e2e_s3, spec["storage"]["prefix"])
        assert manifest["run_id"] == str(run.id)
        outcomes[deployment] = {
            image_id: (
                entry["status"],
                entry["gen_key"],
                entry["sha256"],
                entry["key"].removeprefix(f"{spec['storage']['prefix']}/"),
            )
            for image_id, entry in manifest["images"].items()
        }
    assert sorted(outcomes["adhoc"]) == ["pic-0", "pic-1", "pic-2"]
    assert {o[0] for o in outcomes["adhoc"].values()} == {"ok"}
    assert outcomes["adhoc-dask"] == outcomes["adhoc"]  # same keys, same bytes

    assert e2e_s3.faults is not None and e2e_s3.faults.faulted == 1
    deadline = time.monotonic() + LOG_TIMEOUT  # its last batch may arrive after the state
    while True:
        retried = [
            log
            for log in prefect_api.logs(started["adhoc-dask"][1])
            if log.name == "mediagen.storage.bucket" and log.message.startswith("storage busy (")
        ]
        if retried or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    everything = [
        f"{log.name}: {log.message}" for log in prefect_api.logs(started["adhoc-dask"][1])
    ]
    assert len(retried) == 1, "\n".join(everything) + tail(worker.log)
    assert retried[0].task_run_id is not None  # logged inside a task


# -- 4. mediagen's log lines in the UI -------------------------------------------------


def _lines(server: Server, run_id: UUID | str) -> list[tuple[str, str]]:
    """The run's logs, once its last line is in: a run's process ships its logs in
    batches, and may be marked Completed a moment before the final batch arrives.
    The last line is the *flow* run's "Finished in state" (each task run logs one too)."""
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        lines = [(log.name, log.message) for log in server.logs(run_id)]
        done = any(
            name == "prefect.flow_runs" and m.startswith("Finished in state") for name, m in lines
        )
        if done or time.monotonic() > deadline:  # "did not hang" bound, not a speed claim
            return lines
        time.sleep(0.5)


def _prepare_trouble(s3: S3TestServer, prefix: str) -> None:
    """An unreadable manifest (a WARNING) and one busy answer to a PUT (an INFO retry line)."""
    s3.client().put_object(Bucket=E2E_BUCKET, Key=f"{prefix}/manifest.json", Body=b"{not json")
    s3.faults = FaultSchedule([SLOWDOWN], methods=["PUT"], path_contains=f"/{prefix}/_originals/")


def _assert_mediagen_lines(lines: list[tuple[str, str]], prefix: str) -> None:
    text = "\n".join(f"{name}: {message}" for name, message in lines)
    assert any(name == "prefect.flow_runs" and m.startswith("Plan for ") for name, m in lines), text
    assert any(m.startswith("Backend: offline") for _, m in lines), text
    assert f"mediagen.manifest.model: manifest at {prefix}/manifest.json is unreadable" in text
    assert "mediagen.storage.bucket: storage busy (" in text  # an INFO line of the library
    assert any("3 of 3 images published" in m for _, m in lines), text  # the summary
    assert WORKER_AWS_SECRET not in text


def test_mediagen_log_lines_reach_the_server_from_a_worker_run(
    prefect_api: Server, worker: Worker, e2e_s3: S3TestServer
) -> None:
    _prepare_trouble(e2e_s3, "e2e-logs-worker")
    # No backend named and no key on the worker: the run falls back to the offline renderer.
    spec = s3_spec("e2e-logs-worker", e2e_s3.endpoint_url, THREE)
    run = prefect_api.wait_for_run(create_run(prefect_api, "adhoc", {"spec": spec}))
    assert run.state.is_completed(), f"{run.state!r}" + tail(worker.log)
    assert e2e_s3.faults is not None and e2e_s3.faults.faulted == 1

    lines = _lines(prefect_api, run.id)
    _assert_mediagen_lines(lines, "e2e-logs-worker")
    assert ("mediagen", "No GEMINI_API_KEY/GOOGLE_API_KEY set: using the offline renderer "
            "(procedural placeholder art, not AI).") in lines  # fmt: skip


def test_mediagen_log_lines_reach_the_server_from_a_cli_run(
    prefect_api: Server, e2e_s3: S3TestServer, tmp_path: Path
) -> None:
    _prepare_trouble(e2e_s3, "e2e-logs-cli")
    spec = s3_spec("e2e-logs-cli", e2e_s3.endpoint_url, THREE)
    (tmp_path / "logs.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    secret = "cli-secret-4b7e9d2a"
    result = prefect_api.run(
        sys.executable, "-m", "mediagen.cli.app", "run", "logs.yaml", cwd=tmp_path,
        extra={"PYTHONPATH": str(REPO), "AWS_ACCESS_KEY_ID": "cli-key",
               "AWS_SECRET_ACCESS_KEY": secret, "MEDIAGEN_STORAGE_RETRY_BASE_DELAY": "0.01",
               "MEDIAGEN_WORK_DIR": str(tmp_path / "work")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert e2e_s3.faults is not None and e2e_s3.faults.faulted == 1
    # The console stays as quiet as before: the retry is an INFO line, for the UI only.
    assert "storage busy" not in result.stdout + result.stderr

    run_id = manifest_of(e2e_s3, "e2e-logs-cli")["run_id"]
    lines = _lines(prefect_api, run_id)
    _assert_mediagen_lines(lines, "e2e-logs-cli")
    assert secret not in "\n".join(m for _, m in lines)


# -- 7. the typed spec parameter -------------------------------------------------------


def test_the_spec_parameter_is_typed_and_the_server_enforces_it(
    prefect_api: Server, deployed: Path, e2e_s3: S3TestServer
) -> None:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.states import Scheduled

    with prefect_api.client() as client:
        adhoc = client.read_deployment_by_name("generate-media/adhoc")
        assert adhoc.enforce_parameter_schema
        schema = adhoc.parameter_openapi_schema
        assert schema["required"] == ["spec"]
        options = schema["properties"]["spec"]["anyOf"]
        assert {"$ref": "#/definitions/JobSpec"} in options  # a form of the spec's fields
        assert {"type": "string", "pattern": r"\.ya?ml$"}.items() <= next(
            o for o in options if o.get("type") == "string"
        ).items()
        job_spec = schema["definitions"]["JobSpec"]
        assert {"name", "images", "storage", "defaults"} <= set(job_spec["properties"])
        assert job_spec["additionalProperties"] is False
        image = schema["definitions"]["ImageSpec"]
        assert "prompt" in image["properties"] and image["additionalProperties"] is False

        def count() -> int:  # generate-media's runs: poll-batches' schedule adds its own
            return client.count_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["generate-media"]))
            )

        before = count()
        good = s3_spec("e2e-typed", e2e_s3.endpoint_url, THREE[:1])
        bad_specs = [
            {**good, "images": [{"id": "a", "promt": "typo"}]},  # unknown field
            {**good, "images": []},  # at least one image
            {**good, "concurrency": "lots"},  # not a number
            {"images": good["images"]},  # no name
            "specs/examples/batch-goals.txt",  # not a YAML path
        ]
        for bad in bad_specs:
            with pytest.raises(PrefectHTTPStatusError) as refused:
                client.create_flow_run_from_deployment(adhoc.id, parameters={"spec": bad})
            assert refused.value.response.status_code == 409, refused.value.response.text
            assert "Error creating flow run" in refused.value.response.text
        assert count() == before  # nothing reached a worker

        # A good one is accepted (scheduled for tomorrow, so no worker takes it; then deleted).
        tomorrow = Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1))
        accepted = client.create_flow_run_from_deployment(
            adhoc.id, parameters={"spec": good}, state=tomorrow
        )
        assert count() == before + 1
        assert accepted.parameters == {"spec": good}
        client.delete_flow_run(accepted.id)
