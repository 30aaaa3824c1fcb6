"""mediagen on a real Prefect server: pool, `prefect deploy --all`, worker, `mediagen submit`.

Everything a user runs is a real process (the session's server, pool,
deployments and worker: tests/support/prefect_server.py), and
`mediagen submit --watch`. The bucket is S3 (moto's server on loopback). The
results are then read back through the Prefect client and boto3.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import yaml

from mediagen.testing.s3 import S3TestServer
from tests.support.paths import REPO
from tests.support.prefect_server import (
    E2E_BUCKET,
    POOL,
    Server,
    Worker,
    s3_spec,
    tail,
)

# Submitted specs name their storage; the submitter checks them against its own allow-lists
# (mediagen/plan/trust.py), as the worker does again (tests/support/prefect_server.py).
ALLOW_ANY_STORAGE = {"MEDIAGEN_ALLOWED_BUCKETS": "*", "MEDIAGEN_ALLOWED_ENDPOINTS": "*"}


def mediagen_cli(server: Server, cwd: Path, *args: str, extra: dict[str, str] | None = None):
    env = {"PYTHONPATH": str(REPO), **ALLOW_ANY_STORAGE, **(extra or {})}
    return server.run(sys.executable, "-m", "mediagen.cli.app", *args, cwd=cwd, extra=env)


IMAGES = [
    {"id": "goal-house", "prompt": "saving for a house", "formats": ["webp", "png"]},
    {"id": "goal-car", "prompt": "saving for a car", "size": "social_landscape"},
    {"id": "goal-trip", "prompt": "saving for a trip"},
]


def test_deploy_work_and_submit_on_a_real_server(
    prefect_api: Server, deployed: Path, worker: Worker, e2e_s3: S3TestServer, tmp_path: Path
) -> None:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    endpoint = e2e_s3.endpoint_url
    # The spec lives only on the submitter's side: the worker never sees this folder.
    client_dir = tmp_path / "marketing"
    client_dir.mkdir()
    spec = s3_spec("e2e-goals", endpoint, IMAGES)  # no backend: the worker picks offline
    (client_dir / "goals.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    submitted = mediagen_cli(prefect_api, client_dir, "submit", "goals.yaml", "--watch",
                             "--timeout", "100")  # fmt: skip
    out = submitted.stdout
    assert submitted.returncode == 0, out + submitted.stderr + tail(worker.log)
    # The submitter's machine does not choose the backend: the worker's run does.
    assert "offline" not in out + submitted.stderr

    # A run that fails (its bucket does not exist): --watch exits with that status.
    doomed = {**spec, "name": "e2e-doomed", "images": IMAGES[:1],
              "storage": {**spec["storage"], "bucket": "no-such-bucket"}}  # fmt: skip
    (client_dir / "doomed.yaml").write_text(yaml.safe_dump(doomed, sort_keys=False))
    failed = mediagen_cli(prefect_api, client_dir, "submit", "doomed.yaml", "--watch",
                          "--timeout", "100")  # fmt: skip
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "state: Failed: " in failed.stdout
    assert "bucket does not exist" in failed.stdout  # the reason, where the user looks

    run_id = next(line.split(": ")[1] for line in out.splitlines() if line.startswith("flow run:"))
    assert f"url: {prefect_api.ui_url}/runs/flow-run/{run_id}" in out
    assert "state: Completed: 3 of 3 images published" in out
    assert "manifest: http://" in out and "gallery: http://" in out
    # The worker's run says which backend it used, in the run's logs (the UI).
    messages = [log.message for log in prefect_api.logs(run_id)]
    assert any(m.startswith("Backend: offline, chosen automatically") for m in messages)

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
        # One task run per image, its whole chain inside (flows/image_tasks.py).
        by_name = {t.name: t for t in tasks}
        for image in IMAGES:
            assert by_name[f"make-{image['id']}"].state.is_completed()
        assert not [n for n in by_name if n.startswith(("generate-", "process-", "upload-"))]

        artifacts = {
            a.key: a
            for a in client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
            )
        }
        rows = json.loads(artifacts["e2e-goals-images"].data)
        assert sorted(r["id"] for r in rows) == sorted(i["id"] for i in IMAGES)
        assert all(r["status"] == "ok" and r["url"].startswith(endpoint) for r in rows)
        assert float(artifacts["e2e-goals-progress"].data) == 100.0
        summary = artifacts["e2e-goals-summary"].data
        assert summary.count(f'<img src="{endpoint}/{E2E_BUCKET}/e2e-goals/') == 3
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

    s3_client = e2e_s3.client()
    manifest = json.loads(
        s3_client.get_object(Bucket=E2E_BUCKET, Key="e2e-goals/manifest.json")["Body"].read()
    )
    assert manifest["run_id"] == run_id
    assert {i: e["status"] for i, e in manifest["images"].items()} == {
        i["id"]: "ok" for i in IMAGES
    }
    gallery = s3_client.get_object(Bucket=E2E_BUCKET, Key="e2e-goals/index.html")
    assert gallery["ContentType"].startswith("text/html")
    assert b"goal-house" in gallery["Body"].read()


def test_a_broken_spec_never_reaches_the_server(prefect_api: Server, tmp_path: Path) -> None:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    # generate-media's runs only: poll-batches' schedule adds a run every 5 minutes.
    ours = FlowFilter(name=FlowFilterName(any_=["generate-media"]))

    (tmp_path / "broken.yaml").write_text("name: broken\nimages:\n  - id: a\n    promt: typo\n")
    with prefect_api.client() as client:
        before = client.count_flow_runs(flow_filter=ours)

    result = mediagen_cli(prefect_api, tmp_path, "submit", "broken.yaml", "--watch")

    assert result.returncode == 2
    assert "broken.yaml:4:5: images[0].promt: unknown field 'promt'" in result.stderr
    assert "Traceback" not in result.stderr and "flow run" not in result.stdout
    with prefect_api.client() as client:
        assert client.count_flow_runs(flow_filter=ours) == before

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
