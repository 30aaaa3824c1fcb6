"""Cancel from the Prefect UI (`prefect flow-run cancel`) on a real `prefect server`.

Two ways a run meets a cancel:
- it was started by a runner (`generate_media.serve()`, as a worker does): the
  runner signals the flow's process, which finishes its images in flight and
  writes the partial manifest; then the runner calls the flow's
  ``on_cancellation`` hook, which finds it written;
- it is a `mediagen run` reporting to the server: the flow sees the run is
  being cancelled, stops the same way, and the command exits 130.
Either way: the manifest lists the images done as ``ok`` and the rest
``pending``, no task run shows as Crashed, no "Crash detected" is logged, and
the next run asks the backend only for what was never made (counted on the
local Gemini server).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from mediagen.testing import FakeGeminiServer
from mediagen.testing.gemini_server import Fault
from tests.cli.test_cli_interrupts import (  # noqa: F401  (fixtures)
    HANG_S,
    IMAGES,
    env_for,
    finish,
    image_prompts,
    originals,
    project,
    start,
    wait_for,
)
from tests.conftest import REPO
from tests.support.cancel_server import PrefectServer, prefect_api_server, stop_group  # noqa: F401
from tests.support.gemini import TEST_KEY

LATENCY_S = 3.0  # a run outlasts the time it takes to see two images and cancel it


@pytest.fixture
def slow_gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        server.script(Fault.slow(LATENCY_S), times=None)
        yield server


def server_env(folder: Path, gemini: FakeGeminiServer, server: PrefectServer) -> dict[str, str]:
    # Generous grace: the claim is "nothing paid for is lost", not speed (see test_cli_interrupts).
    env = env_for(folder, gemini, MEDIAGEN_INTERRUPT_GRACE="20")
    return env | {"PREFECT_API_URL": server.api_url, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}


def cancel(server: PrefectServer, run_id: UUID) -> None:
    """What the UI's Cancel and `prefect flow-run cancel` do: propose Cancelling.

    Through the client rather than the CLI: the CLI takes longer to start on a loaded
    machine than the run takes to finish."""
    from prefect.states import Cancelling

    with server.client() as client:
        result = client.set_flow_run_state(run_id, Cancelling(message="cancelled by a test"))
    assert result.status.value == "ACCEPT", result


def final_state(server: PrefectServer, run_id: UUID) -> Any:
    deadline = time.monotonic() + HANG_S
    with server.client() as client:
        while True:
            state = client.read_flow_run(run_id).state
            if state is not None and state.is_final():
                return state
            assert time.monotonic() < deadline, f"run still {state.name if state else None}"
            time.sleep(0.5)


def run_records(server: PrefectServer, run_id: UUID) -> tuple[list[Any], list[str]]:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    with server.client() as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return tasks, [log.message for log in logs]


def check_partial_and_resume(
    folder: Path, gemini: FakeGeminiServer, env: dict[str, str], run_id: UUID
) -> None:
    manifest = json.loads((folder / "bucket/coins/manifest.json").read_text())
    assert manifest["run_id"] == str(run_id)
    statuses = Counter(e["status"] for e in manifest["images"].values())
    assert set(statuses) <= {"ok", "pending"} and sum(statuses.values()) == IMAGES
    assert statuses["ok"] >= 2 and statuses["pending"] >= 1, statuses
    assert (folder / "bucket/coins/index.html").is_file()
    first = image_prompts(gemini)
    assert len(originals(folder)) == sum(first.values())  # every paid answer was kept
    done = {e["prompt"] for e in manifest["images"].values() if e["status"] == "ok"}

    rerun = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "coins.yaml"], cwd=folder, env=env,
        capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = image_prompts(gemini)
    assert not done & set(after - first), "an image the cancelled run published was asked again"
    assert max(after.values()) == 1 and sum(after.values()) == IMAGES  # no original made twice


def test_cancel_a_run_started_by_a_runner(
    prefect_api_server: PrefectServer,  # noqa: F811
    project: Path,  # noqa: F811
    slow_gemini: FakeGeminiServer,
) -> None:
    server = prefect_api_server
    env = server_env(project, slow_gemini, server)
    with (project / "serve.log").open("w") as log:
        serving = subprocess.Popen(
            [sys.executable, "-c", "from flows.generate_media import generate_media; "
             "generate_media.serve(name='cancel-me', print_starting_message=False)"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        with server.client() as client:
            deadline = time.monotonic() + HANG_S
            while True:
                assert serving.poll() is None, (project / "serve.log").read_text()[-3000:]
                try:
                    deployment = client.read_deployment_by_name("generate-media/cancel-me")
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the deployment never appeared"
                    time.sleep(0.5)
            # The spec itself, as a deployment's caller sends it: a run from a deployment
            # may not name a file outside its project folder (mediagen/plan/trust.py).
            spec = yaml.safe_load((project / "coins.yaml").read_text())
            run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"spec": spec, "concurrency": 2}
            )
        wait_for(lambda: len(originals(project)) >= 2, serving, "two images were generated")
        signalled = time.monotonic()
        cancel(server, run.id)
        state = final_state(server, run.id)
        print(f"\nrunner: {state.name} {time.monotonic() - signalled:.1f} s after the cancel")
        assert state.is_cancelled(), state
    finally:
        stop_group(serving)
    tasks, logs = run_records(server, run.id)
    assert tasks and not [t.name for t in tasks if t.state and t.state.is_crashed()]
    assert not [m for m in logs if "Crash detected" in m]
    check_partial_and_resume(project, slow_gemini, env, run.id)


def test_cancel_a_mediagen_run_reporting_to_a_server(
    prefect_api_server: PrefectServer,  # noqa: F811
    project: Path,  # noqa: F811
    slow_gemini: FakeGeminiServer,
) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState
    from prefect.client.schemas.objects import StateType

    server = prefect_api_server
    env = server_env(project, slow_gemini, server)
    proc = start(project, env, "run", "coins.yaml", "--concurrency", "2")
    wait_for(lambda: len(originals(project)) >= 2, proc, "two images were generated")
    with server.client() as client:
        running = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type={"any_": [StateType.RUNNING]})
            )
        )
    (run,) = [r for r in running if r.name == "coins"]
    signalled = time.monotonic()
    cancel(server, run.id)
    code, out, err = finish(proc)
    print(f"\nmediagen run: exit {code} {time.monotonic() - signalled:.1f} s after the cancel")
    assert code == 130, out + err
    assert len((out + err).splitlines()) <= 10 and "Traceback" not in err, out + err
    assert final_state(server, run.id).is_cancelled()
    tasks, logs = run_records(server, run.id)
    assert tasks and not [t.name for t in tasks if t.state and t.state.is_crashed()]
    assert not [m for m in logs if "Crash detected" in m]
    check_partial_and_resume(project, slow_gemini, env, run.id)


pytestmark = pytest.mark.timeout(900)
