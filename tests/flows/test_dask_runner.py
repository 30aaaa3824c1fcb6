"""The same flow on a Dask cluster of worker processes (prefect-dask) and on threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from flows.run import run_flow
from flows.runners import task_runner_for
from mediagen.manifest.model import Manifest
from tests.conftest import REPO
from tests.support.cli import mediagen

pytestmark = pytest.mark.usefixtures("prefect_server")

IMAGES = [
    {"id": f"goal-{i}", "prompt": f"saving for goal number {i}", "size": size, "formats": fmts}
    for i, (size, fmts) in enumerate(
        [
            ("thumbnail", ["png", "webp"]),
            ("social_landscape", ["jpeg"]),
            ({"width": 300, "height": 200}, ["avif"]),
            ("thumbnail", ["webp"]),
            ("thumbnail", ["png"]),
            ({"width": 64, "height": 256}, ["jpeg", "png"]),
        ]
    )
]


@pytest.fixture
def cluster(workspace: Path) -> Iterator[LocalCluster]:
    """Two worker processes on loopback, started after the workspace's environment is set."""
    with LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=2,
        host="127.0.0.1",
        dashboard_address=":0",
    ) as local:
        yield local


def spec_in(bucket: Path) -> dict[str, Any]:
    return {
        "name": "dask-demo",
        "backend": "offline",
        "storage": {"bucket": str(bucket)},
        "images": IMAGES,
    }


def comparable(manifest: Manifest) -> dict[str, Any]:
    """What a manifest says about the images, without run ids, times and bucket paths."""
    keep = ("status", "key", "width", "height", "format", "bytes", "sha256", "prompt",
            "backend", "model", "gen_key", "original_key", "cost_usd", "error")  # fmt: skip
    return {
        image_id: {
            **{k: getattr(e, k) for k in keep},
            "outputs": [(o.key, o.format, o.bytes, o.sha256, o.width, o.height) for o in e.outputs],
        }
        for image_id, e in manifest.images.items()
    }


def client_pids() -> tuple[int, list[int]]:
    """In a worker: its pid, and the pids that built the clients of the Runs kept there."""
    from flows import run_registry

    runs = list(run_registry._worker_runs.values())
    return os.getpid(), sorted({key[0] for run in runs for key in run._clients})


def test_dask_cluster_gives_the_same_manifest_as_threads(
    workspace: Path, cluster: LocalCluster
) -> None:
    threads = run_flow(spec_in(workspace / "bucket-threads"), runner="thread")
    on_dask = run_flow(
        spec_in(workspace / "bucket-dask"), runner="dask", dask_address=cluster.scheduler_address
    )

    assert threads.counts["ok"] == len(IMAGES)
    assert comparable(on_dask) == comparable(threads)
    for entry in on_dask.images.values():
        for out in entry.outputs:
            a = (workspace / "bucket-threads" / out.key).read_bytes()
            assert (workspace / "bucket-dask" / out.key).read_bytes() == a

    # The tasks ran in the worker processes, and each built its own clients there.
    with Client(cluster) as client:
        seen = client.run(client_pids)
    assert len(seen) == 2
    for worker_pid, built_by in seen.values():
        assert worker_pid != os.getpid()
        assert built_by == [worker_pid], "a worker used clients built elsewhere"


def test_dask_runner_without_address_starts_a_local_cluster_of_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect_dask import DaskTaskRunner

    monkeypatch.delenv("MEDIAGEN_DASK_ADDRESS", raising=False)
    monkeypatch.setenv("MEDIAGEN_DASK_WORKERS", "3")
    runner = task_runner_for("dask", concurrency=8)
    assert isinstance(runner, DaskTaskRunner) and runner.address is None
    assert runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["processes"] is True
    assert runner.cluster_kwargs["threads_per_worker"] == 3  # ≈ 8 images in flight

    monkeypatch.setenv("MEDIAGEN_DASK_ADDRESS", "tcp://127.0.0.1:8786")
    assert task_runner_for("dask").address == "tcp://127.0.0.1:8786"


def test_run_with_the_dask_runner_on_a_local_cluster(tmp_path: Path) -> None:
    """`mediagen run --runner dask`: Prefect's ephemeral API, a local cluster of processes."""
    spec = REPO / "specs" / "examples" / "goal-image.yaml"
    result = mediagen(
        tmp_path, "run", str(spec), "--runner", "dask", env={"MEDIAGEN_DASK_WORKERS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = (tmp_path / "media-bucket" / "goal-image" / "manifest.json").read_text()
    assert '"status": "ok"' in manifest
    assert (tmp_path / "media-bucket" / "goal-image" / "index.html").is_file()
