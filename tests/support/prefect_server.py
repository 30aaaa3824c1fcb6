"""The one real Prefect server of a test session, with its deployments and worker.

For tests whose subject is what a server sees: deployments, schedules, workers,
logs, artifacts, automations, a Cancel from the UI, flow-run states. Everything
an operator runs is a real process: `prefect server start` on a random loopback
port with its own PREFECT_HOME, `prefect work-pool create`, `prefect --no-prompt
deploy --all` from a checkout, `prefect worker start`. The worker's bucket is S3
(moto's server on loopback, behind mediagen's fault injector). Each starts once
per test session, on first use (starting a server costs ~15 s of a loaded 2-core
machine), and stops at its end, children and all.

Registered as a pytest plugin by tests/conftest.py: tests ask for the fixtures
(``prefect_api``, ``deployed``, ``worker``, ``e2e_s3``) and import only the helpers.
(Tests that only need *a* Prefect API, not a server process of their own, use the
lighter ``prefect_server`` fixture of tests/conftest.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from mediagen.testing.s3 import S3TestServer
from tests.support.paths import REPO

SERVER_START_TIMEOUT = 180  # healthy in ~15 s here; far more on a loaded 2-core machine
CLI_TIMEOUT = 120
RUN_TIMEOUT = 150  # a flow run of a few offline images, on a loaded machine: "did not hang"
POOL = "mediagen-process"
E2E_BUCKET = "e2e-media"
# What the worker signs its S3 requests with: never to be seen in logs or the Prefect DB.
WORKER_AWS_KEY, WORKER_AWS_SECRET = "e2e-worker-key", "e2e-worker-secret-8c1f0b"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[Any]) -> None:
    """End a process we started in its own session, and its children."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(path: Path, n: int = 4000) -> str:
    return f"\n--- {path.name} ---\n" + path.read_text()[-n:] if path.exists() else ""


@dataclass
class Server:
    api_url: str
    ui_url: str
    env: dict[str, str]  # what a process talking to this server needs
    home: Path

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def run(
        self,
        *args: str,
        cwd: Path,
        extra: dict[str, str] | None = None,
        timeout: float = CLI_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), cwd=cwd, env={**self.env, **(extra or {})}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def prefect(self, *args: str, cwd: Path, extra: dict[str, str] | None = None) -> Any:
        return self.run(sys.executable, "-m", "prefect", *args, cwd=cwd, extra=extra)

    def wait_for_run(self, run_id: UUID | str, timeout: float = RUN_TIMEOUT) -> Any:
        """The flow run once its state is final (fails the test after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                run = client.read_flow_run(run_id)
                if run.state is not None and run.state.is_final():
                    return run
                assert time.monotonic() < deadline, f"run {run_id} still {run.state!r}"
                time.sleep(1)

    def logs(self, run_id: UUID | str) -> list[Any]:
        """The run's log lines as the server stored them (what the UI shows)."""
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        with self.client() as client:
            return client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(str(run_id))]))
            )

    def task_runs(self, run_id: UUID | str) -> list[Any]:
        """The run's task runs, with their states (what the UI's run page lists)."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        with self.client() as client:
            return client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(run_id))]))
            )


@dataclass
class Worker:
    """A `prefect worker start` on the pool, with its environment and log."""

    env: dict[str, str]
    log: Path
    bucket_dir: Path  # where a spec with a `local` bucket publishes on the worker's machine


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on a free loopback port, for the whole session."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE", "PREFECT_"))
    }
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        # The scheduler wakes every 60 s by default; tests wait for the runs it makes.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "COLUMNS": "200",
    }
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            assert proc.poll() is None, tail(home / "server.log")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prefect server did not become healthy"
            time.sleep(0.5)
        yield Server(f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{port}", env, home)
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="session")
def e2e_s3_server() -> Iterator[S3TestServer]:
    """moto's S3 server on loopback (faults scriptable), for the session."""
    with S3TestServer() as server:
        yield server


@pytest.fixture
def e2e_s3(e2e_s3_server: S3TestServer) -> Iterator[S3TestServer]:
    """The session's S3 with the bucket ``e2e-media``, and no faults after the test.

    moto keeps one state per process: another test's ``S3TestServer.reset()``
    empties this server too, so the bucket is made again when it is missing.
    """
    client = e2e_s3_server.client()
    if E2E_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=E2E_BUCKET)
    yield e2e_s3_server
    e2e_s3_server.faults = None


def checkout_of_repo(dest: Path) -> Path:
    """A checkout: the files `prefect deploy` and the worker need, nothing else."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("flows", "mediagen", "specs"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    for name in ("prefect.yaml", "pyproject.toml"):
        shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def deployed(prefect_api: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pool made and `prefect deploy --all` run from a checkout, as docs/operations.md says."""
    checkout = checkout_of_repo(tmp_path_factory.mktemp("checkout"))
    code = {"PYTHONPATH": str(checkout)}  # the checkout's code, not an installed copy
    pool = prefect_api.prefect("work-pool", "create", POOL, "--type", "process", cwd=checkout)
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = prefect_api.prefect("--no-prompt", "deploy", "--all", cwd=checkout, extra=code)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "generate-media/monthly-goal-images" in deploy.stdout
    return checkout


@pytest.fixture(scope="session")
def worker(
    prefect_api: Server,
    deployed: Path,
    e2e_s3_server: S3TestServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    """`prefect worker start --pool mediagen-process`, for the session.

    No backend setting and no Gemini key: the worker's runs pick the offline
    renderer themselves (and say so in their logs).
    """
    where = tmp_path_factory.mktemp("worker")
    env = {
        **prefect_api.env,
        "PYTHONPATH": str(deployed),
        "MEDIAGEN_PROJECT_DIR": str(deployed),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "MEDIAGEN_WORK_DIR": str(where / "work"),
        "MEDIAGEN_BUCKET_DIR": str(where / "bucket"),
        "MEDIAGEN_TASK_RETRIES": "0",
        "MEDIAGEN_STORAGE_RETRY_BASE_DELAY": "0.01",
        "MEDIAGEN_DASK_WORKERS": "1",  # one worker process is enough to prove Dask starts
        # Specs from deployments are untrusted (mediagen/plan/trust.py): the tests' specs name the
        # loopback S3 server's buckets, so this worker allows any (tests/plan/test_trust.py checks
        # the refusals).
        "MEDIAGEN_ALLOWED_BUCKETS": "*",
        "MEDIAGEN_ALLOWED_ENDPOINTS": "*",
        "AWS_ACCESS_KEY_ID": WORKER_AWS_KEY,
        "AWS_SECRET_ACCESS_KEY": WORKER_AWS_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(where / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(where / "no-aws-credentials"),
    }
    log_path = where / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL],
        cwd=where, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield Worker(env, log_path, where / "bucket")
    finally:
        stop(proc)
        log.close()


def s3_spec(name: str, endpoint: str, images: list[dict[str, Any]], **extra: Any) -> dict:
    """A spec publishing to the e2e bucket (public, so the summary shows thumbnails)."""
    return {
        "name": name,
        "storage": {"provider": "s3", "bucket": E2E_BUCKET, "endpoint_url": endpoint,
                    "region": "us-east-1", "public": True},
        "defaults": {"size": "thumbnail", "formats": ["webp"]},
        "images": images,
        **extra,
    }  # fmt: skip
