"""On a real `prefect server`: a batch run suspends while its job is pending (its worker slot
is free: another run of the one-slot pool completes meanwhile), and the ``poll-batches``
deployment resumes it once the job has ended; the resumed run publishes.

Real processes: the session's `prefect server`, `prefect deploy` of generate-media and
poll-batches onto a pool of one slot, and a `prefect worker` of that pool whose Gemini
backend points at the local Batch API server in this process (jobs pending until the
test ends them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from mediagen.testing.batch_server import FakeBatchServer
from tests.support.gemini import TEST_KEY
from tests.support.prefect_server import Server, checkout_of_repo, stop, tail

POOL = "mediagen-batch-e2e"
HANG_S = 600  # did-not-hang bound per step on a loaded 2-core machine

pytestmark = pytest.mark.timeout(2400)  # a server, deployments, a worker and five flow runs


@pytest.fixture(scope="module")
def batches() -> Iterator[FakeBatchServer]:
    with FakeBatchServer(api_key=TEST_KEY, pending_s=3600, image_side=128, max_side=256) as server:
        yield server


@pytest.fixture(scope="module")
def batch_worker(
    prefect_api: Server, batches: FakeBatchServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A pool of ONE slot, both flows deployed to it from a checkout, and its worker;
    yields the worker's bucket folder."""
    deployed = checkout_of_repo(tmp_path_factory.mktemp("batch-checkout"))
    code = {"PYTHONPATH": str(deployed)}
    for args in (
        ("work-pool", "create", POOL, "--type", "process"),
        ("work-pool", "set-concurrency-limit", POOL, "1"),
        ("--no-prompt", "deploy", "flows/generate_media.py:generate_media", "--name",
         "batch-e2e", "--pool", POOL),
        ("--no-prompt", "deploy", "flows/batch_poll.py:poll_batches", "--name", "poll-e2e",
         "--pool", POOL),
    ):  # fmt: skip
        # Generous: `prefect deploy` imports the flows; a loaded machine takes minutes.
        done = prefect_api.run(sys.executable, "-m", "prefect", *args, cwd=deployed, extra=code,
                               timeout=HANG_S)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    where = tmp_path_factory.mktemp("batch-worker")
    env = {
        **prefect_api.env, **code,
        "MEDIAGEN_PROJECT_DIR": str(deployed),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "MEDIAGEN_WORK_DIR": str(where / "work"),
        "MEDIAGEN_BUCKET_DIR": str(where / "bucket"),
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": batches.base_url,
        "MEDIAGEN_ALLOWED_ENDPOINTS": "*",
    }  # fmt: skip
    log_path = where / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL],
            cwd=where, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip
        try:
            yield where / "bucket"
        finally:
            stop(proc)
    print(tail(log_path))


def _spec(name: str, delivery: str, n: int) -> dict[str, Any]:
    images = [{"id": f"{name}-{i}", "prompt": f"a jar of coins number {i}",
               "size": "thumbnail", "formats": ["webp"]} for i in range(n)]  # fmt: skip
    return {"name": name, "backend": "gemini", "images": images,
            "defaults": {"delivery": delivery}, "batch": {"poll_seconds": 0.5}}  # fmt: skip


def _start(server: Server, deployment: str, parameters: dict[str, Any]) -> UUID:
    with server.client() as client:
        found = client.read_deployment_by_name(deployment)
        return client.create_flow_run_from_deployment(found.id, parameters=parameters).id


def _wait_state(server: Server, run_id: UUID, names: set[str]) -> Any:
    with server.client() as client:
        for _ in range(int(HANG_S)):  # polls a second apart: a did-not-hang bound
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.name in names:
                return run
            assert run.state is None or not run.state.is_final() or run.state.name in names, (
                f"run {run_id} ended {run.state!r}"
            )
            time.sleep(1)
    pytest.fail(f"run {run_id} still {run.state!r} after {int(HANG_S)} polls")


def _running_on_pool(server: Server) -> list[Any]:
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType

    with server.client() as client:
        return list(client.read_flow_runs(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[POOL])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
            )),
        ))  # fmt: skip


def test_a_pending_batch_run_holds_no_worker_slot(
    prefect_api: Server, batches: FakeBatchServer, batch_worker: Path
) -> None:
    waiting = _start(
        prefect_api, "generate-media/batch-e2e", {"spec": _spec("suspended", "batch", 3)}
    )
    suspended = _wait_state(prefect_api, waiting, {"Suspended"})
    assert suspended.state.type.value == "PAUSED"
    assert batches.jobs_created == 1 and batches.lines_received == 3
    assert _running_on_pool(prefect_api) == []  # nothing of it runs while the job is pending

    # The pool has one slot: a run that completes now proves the waiting run holds none.
    other = _start(prefect_api, "generate-media/batch-e2e", {"spec": _spec("meanwhile", "sync", 1)})
    assert _wait_state(prefect_api, other, {"Completed"}).state.is_completed()
    assert prefect_api.client().read_flow_run(waiting).state.name == "Suspended"

    # Nothing has ended yet: a poll resumes nothing.
    poll = _start(prefect_api, "poll-batches/poll-e2e", {})
    assert _wait_state(prefect_api, poll, {"Completed"}).state.is_completed()
    assert prefect_api.client().read_flow_run(waiting).state.name == "Suspended"

    batches.finish_now()
    poll = _start(prefect_api, "poll-batches/poll-e2e", {})
    assert _wait_state(prefect_api, poll, {"Completed"}).state.is_completed()
    done = _wait_state(prefect_api, waiting, {"Completed", "Failed", "Crashed"})

    assert done.state.is_completed(), done.state
    manifest = json.loads((batch_worker / "suspended" / "manifest.json").read_text())
    assert {e["status"] for e in manifest["images"].values()} == {"ok"}
    assert manifest["cost_usd"] > 0
    assert batches.jobs_created == 1 and set(batches.keys_received.values()) == {1}
    assert len(batches.gemini.image_requests) == 1  # the sync run's one image, no other
