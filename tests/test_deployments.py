"""mediagen on a real Prefect server: pool, `prefect deploy --all`, worker, `mediagen submit`.

Everything a user runs is a real process: `prefect server start` on a random
loopback port with its own PREFECT_HOME, `prefect work-pool create`,
`prefect deploy --all` from a checkout, `prefect worker start`, and
`mediagen submit --watch`. The bucket is S3 (moto's server on loopback). The
results are then read back through the Prefect client and boto3.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import REPO

SERVER_START_TIMEOUT = 90
CLI_TIMEOUT = 120
POOL = "mediagen-process"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(proc: subprocess.Popen[Any]) -> None:
    """End a process we started, and its children (it leads its own session)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Server:
    api_url: str
    ui_url: str
    env: dict[str, str]
    home: Path

    def client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def run(self, *args: str, cwd: Path, extra: dict[str, str] | None = None) -> Any:
        return subprocess.run(
            list(args), cwd=cwd, env={**self.env, **(extra or {})}, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=CLI_TIMEOUT,
        )  # fmt: skip


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start` on a free loopback port; stopped at the end of the module."""
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
            assert proc.poll() is None, (home / "server.log").read_text()[-3000:]
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


@pytest.fixture(scope="module")
def s3(prefect_api: Server) -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback, with one bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    creds = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, **_boto(creds)).create_bucket(Bucket="e2e-media")
    try:
        yield {"endpoint": endpoint, **creds}
    finally:
        server.stop()


def _boto(creds: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": creds["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": creds["AWS_SECRET_ACCESS_KEY"],
        "region_name": creds["AWS_DEFAULT_REGION"],
    }


def checkout_of_repo(dest: Path) -> Path:
    """A checkout: the files `prefect deploy` and the worker need, nothing else."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("flows", "mediagen", "specs"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    for name in ("prefect.yaml", "pyproject.toml"):
        shutil.copy2(REPO / name, dest / name)
    return dest


def mediagen_cli(server: Server, cwd: Path, *args: str, extra: dict[str, str] | None = None):
    env = {"PYTHONPATH": str(REPO), **(extra or {})}
    return server.run(sys.executable, "-m", "mediagen.cli", *args, cwd=cwd, extra=env)


IMAGES = [
    {"id": "goal-house", "prompt": "saving for a house", "formats": ["webp", "png"]},
    {"id": "goal-car", "prompt": "saving for a car", "size": "social_landscape"},
    {"id": "goal-trip", "prompt": "saving for a trip"},
]


def test_deploy_work_and_submit_on_a_real_server(
    prefect_api: Server, s3: dict[str, str], tmp_path: Path
) -> None:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    checkout = checkout_of_repo(tmp_path / "checkout")
    code = {"PYTHONPATH": str(checkout)}  # the checkout's code, not an installed copy

    pool = prefect_api.run(
        sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process",
        cwd=checkout, extra=code,
    )  # fmt: skip
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = prefect_api.run(
        sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", cwd=checkout, extra=code
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "generate-media/monthly-goal-images" in deploy.stdout

    # Submitted specs name storage: the worker (and the submitter's check) must allow it.
    allowed = {"MEDIAGEN_ALLOWED_BUCKETS": "e2e-media,no-such-bucket",
               "MEDIAGEN_ALLOWED_ENDPOINTS": s3["endpoint"]}  # fmt: skip
    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL],
        cwd=tmp_path, stdout=worker_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**prefect_api.env, **code, **s3, "MEDIAGEN_PROJECT_DIR": str(checkout),
             "PREFECT_WORKER_QUERY_SECONDS": "1", "MEDIAGEN_BACKEND": "offline",
             "MEDIAGEN_WORK_DIR": str(tmp_path / "work"), "MEDIAGEN_TASK_RETRIES": "0",
             **allowed},
        start_new_session=True,
    )  # fmt: skip
    try:
        # The spec lives only on the submitter's side: the worker never sees this folder.
        client_dir = tmp_path / "marketing"
        client_dir.mkdir()
        spec = {
            "name": "e2e-goals",
            "backend": "offline",
            "storage": {"provider": "s3", "bucket": "e2e-media", "endpoint_url": s3["endpoint"],
                        "region": "us-east-1", "public": True},
            "defaults": {"size": "thumbnail", "formats": ["webp"]},
            "images": IMAGES,
        }  # fmt: skip
        (client_dir / "goals.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

        submitted = mediagen_cli(prefect_api, client_dir, "submit", "goals.yaml", "--watch",
                                 "--timeout", "100", extra=allowed)  # fmt: skip
        out = submitted.stdout
        assert submitted.returncode == 0, out + submitted.stderr + _tail(tmp_path / "worker.log")

        # A run that fails (its bucket does not exist): --watch exits with that status.
        doomed = {**spec, "name": "e2e-doomed", "images": IMAGES[:1],
                  "storage": {**spec["storage"], "bucket": "no-such-bucket"}}  # fmt: skip
        (client_dir / "doomed.yaml").write_text(yaml.safe_dump(doomed, sort_keys=False))
        failed = mediagen_cli(prefect_api, client_dir, "submit", "doomed.yaml", "--watch",
                              "--timeout", "100", extra=allowed)  # fmt: skip
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "state: Failed: " in failed.stdout
        assert "bucket does not exist" in failed.stdout  # the reason, where the user looks
    finally:
        stop(worker)
        worker_log.close()

    run_id = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("flow run:"))
    assert f"url: {prefect_api.ui_url}/runs/flow-run/{run_id}" in out
    assert "state: Completed: 3 of 3 images published" in out
    assert "manifest: http://" in out and "gallery: http://" in out

    with prefect_api.client() as client:
        run = client.read_flow_run(run_id)
        assert run.state.is_completed() and run.name == "e2e-goals"
        adhoc = client.read_deployment_by_name("generate-media/adhoc")
        assert run.deployment_id == adhoc.id
        assert run.parameters["spec"]["name"] == "e2e-goals"  # the content, not a path
        assert isinstance(run.parameters["spec"]["images"], list)

        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
        by_name = {t.name: t for t in tasks}
        for image in IMAGES:
            for stage in ("generate", "process", "upload"):
                assert by_name[f"{stage}-{image['id']}"].state.is_completed()

        artifacts = {
            a.key: a
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        }
        rows = json.loads(artifacts["e2e-goals-images"].data)
        assert sorted(r["id"] for r in rows) == sorted(i["id"] for i in IMAGES)
        assert all(r["status"] == "ok" and r["url"].startswith(s3["endpoint"]) for r in rows)
        assert float(artifacts["e2e-goals-progress"].data) == 100.0
        summary = artifacts["e2e-goals-summary"].data
        assert summary.count(f'<img src="{s3["endpoint"]}/e2e-media/e2e-goals/') == 3
        assert artifacts["e2e-goals-manifest"].data.endswith("/e2e-goals/manifest.json)")
        assert artifacts["e2e-goals-gallery"].data.endswith("/e2e-goals/index.html)")

        monthly = client.read_deployment_by_name("generate-media/monthly-goal-images")
        (schedule,) = monthly.schedules
        assert schedule.schedule.cron == "0 6 1 * *"
        assert schedule.schedule.timezone == "Europe/London" and schedule.active
        assert monthly.parameters == {"spec": "specs/examples/batch-goals.yaml"}
        for deployment in (adhoc, monthly):
            assert deployment.work_pool_name == POOL
            assert "mediagen" in deployment.tags
            assert deployment.global_concurrency_limit.limit == 1
            assert deployment.concurrency_options.collision_strategy == "ENQUEUE"
            # No machine's path is baked in: the worker's environment says where the code is.
            assert deployment.pull_steps == [
                {
                    "flows.workdir.set_project_directory": {
                        "directory": "{{ $MEDIAGEN_PROJECT_DIR }}"
                    }
                }
            ]

    import boto3

    s3_client = boto3.client("s3", endpoint_url=s3["endpoint"], **_boto(s3))
    manifest = json.loads(
        s3_client.get_object(Bucket="e2e-media", Key="e2e-goals/manifest.json")["Body"].read()
    )
    assert manifest["run_id"] == run_id
    assert {i: e["status"] for i, e in manifest["images"].items()} == {
        i["id"]: "ok" for i in IMAGES
    }
    gallery = s3_client.get_object(Bucket="e2e-media", Key="e2e-goals/index.html")
    assert gallery["ContentType"].startswith("text/html")
    assert b"goal-house" in gallery["Body"].read()


def test_a_broken_spec_never_reaches_the_server(prefect_api: Server, tmp_path: Path) -> None:
    from prefect.client.schemas.filters import FlowRunFilter

    (tmp_path / "broken.yaml").write_text("name: broken\nimages:\n  - id: a\n    promt: typo\n")
    with prefect_api.client() as client:
        before = client.count_flow_runs(flow_run_filter=FlowRunFilter())

    result = mediagen_cli(prefect_api, tmp_path, "submit", "broken.yaml", "--watch")

    assert result.returncode == 2
    assert "broken.yaml:4:5: images[0].promt: unknown field 'promt'" in result.stderr
    assert "Traceback" not in result.stderr and "flow run" not in result.stdout
    with prefect_api.client() as client:
        assert client.count_flow_runs(flow_run_filter=FlowRunFilter()) == before

    # Not even a connection: point the CLI at a listener and count who knocks.
    knocks: list[object] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        stop_event = threading.Event()

        def accept() -> None:
            while not stop_event.is_set():
                try:
                    conn, _ = listener.accept()
                except OSError:
                    continue
                knocks.append(conn)
                conn.close()

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        again = mediagen_cli(
            prefect_api, tmp_path, "submit", "broken.yaml",
            extra={"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"},
        )  # fmt: skip
        stop_event.set()
        thread.join(timeout=5)
    assert again.returncode == 2 and knocks == []


def _tail(path: Path, n: int = 4000) -> str:
    return "\n--- worker log ---\n" + path.read_text()[-n:] if path.exists() else ""
