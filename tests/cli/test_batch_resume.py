"""A batch run killed while its job is pending, run again: the same job, nothing asked twice.

Real processes: `python -m mediagen.cli.app run --delivery batch` in its own session,
killed with SIGKILL (no handler runs, no manifest is written), then run again; the
gemini backend through the real google-genai SDK against the local Batch API server
in this process; a local bucket. And `mediagen batches list|cancel` on the same jobs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mediagen.testing.batch_server import FakeBatchServer
from tests.support.gemini import TEST_KEY
from tests.support.interrupted_run import env_for, finish, start, wait_for

IMAGES = 6

# Two or three `mediagen` processes per test, each starting its own local Prefect API.
pytestmark = pytest.mark.timeout(1500)
SPEC = {
    "name": "coins",
    "backend": "gemini",
    "batch": {"poll_seconds": 0.2},
    "images": [
        {"id": f"coin{n:02d}", "prompt": f"a gold coin number {n}", "size": "thumbnail"}
        for n in range(IMAGES)
    ],
}


@pytest.fixture
def slow_batches(tmp_path: Path) -> Iterator[FakeBatchServer]:
    """Jobs stay pending until the test says ``finish_now()``."""
    with FakeBatchServer(api_key=TEST_KEY, pending_s=3600, image_side=128, max_side=256) as server:
        yield server


def _records(cwd: Path) -> list[dict]:
    folder = cwd / "bucket" / "coins" / "_batches" / "coins"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _env(cwd: Path, server: FakeBatchServer) -> dict[str, str]:
    # A short lease (the killed run's expires soon); a loaded machine may start the
    # command's local Prefect API slowly.
    return env_for(cwd, server, MEDIAGEN_LEASE_TTL="3",  # type: ignore[arg-type]
                   PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="280")  # fmt: skip


def _batches(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "batches", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_killed_while_pending_then_run_again(tmp_path: Path, slow_batches: FakeBatchServer) -> None:
    (tmp_path / "coins.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    env = _env(tmp_path, slow_batches)
    proc = start(tmp_path, env, "run", "coins.yaml", "--delivery", "batch")
    wait_for(lambda: any(r["state"] == "submitted" for r in _records(tmp_path)), proc,
             "the batch job was recorded")  # fmt: skip
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert slow_batches.jobs_created == 1
    (record,) = _records(tmp_path)
    assert sorted(i for ids in record["keys"].values() for i in ids) == sorted(
        i["id"] for i in SPEC["images"]
    )

    listed = _batches(tmp_path, env, "list", "coins.yaml", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["job_state"], row["images"]) == (record["name"], "PENDING", IMAGES)

    slow_batches.finish_now()
    code, out, err = finish(start(tmp_path, env, "run", "coins.yaml", "--delivery", "batch"))

    assert code == 0, out + err
    assert slow_batches.jobs_created == 1  # the same job, polled again
    assert set(slow_batches.keys_received.values()) == {1}  # no line submitted twice
    assert len(slow_batches.keys_received) == IMAGES
    assert slow_batches.gemini.requests == []  # and none made the ordinary way
    manifest = json.loads((tmp_path / "bucket" / "coins" / "manifest.json").read_text())
    assert {e["status"] for e in manifest["images"].values()} == {"ok"}
    assert manifest["cost_usd"] == 0  # paid to the run that submitted the job...
    assert manifest["total_cost_usd"] > 0  # ...and counted for the spec
    assert [r["state"] for r in _records(tmp_path)] == ["collected"]


def test_ctrl_c_while_waiting_leaves_the_job_to_the_next_run(
    tmp_path: Path, slow_batches: FakeBatchServer
) -> None:
    (tmp_path / "coins.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    env = _env(tmp_path, slow_batches)
    proc = start(tmp_path, env, "run", "coins.yaml", "--delivery", "batch")
    wait_for(lambda: any(r["state"] == "submitted" for r in _records(tmp_path)), proc,
             "the batch job was recorded")  # fmt: skip
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C
    code, out, err = finish(proc)

    assert code == 130, out + err
    assert "Traceback" not in err
    manifest = json.loads((tmp_path / "bucket" / "coins" / "manifest.json").read_text())
    assert {e["status"] for e in manifest["images"].values()} == {"pending"}
    slow_batches.finish_now()
    code, out, err = finish(start(tmp_path, env, "run", "coins.yaml", "--delivery", "batch"))
    assert code == 0, out + err
    assert slow_batches.jobs_created == 1 and set(slow_batches.keys_received.values()) == {1}


def test_batches_cancel(tmp_path: Path, slow_batches: FakeBatchServer) -> None:
    spec = {**SPEC, "batch": {"poll_seconds": 0.2, "on_failure": "fail"}}
    (tmp_path / "coins.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    env = _env(tmp_path, slow_batches)
    proc = start(tmp_path, env, "run", "coins.yaml", "--delivery", "batch")
    wait_for(lambda: any(r["state"] == "submitted" for r in _records(tmp_path)), proc,
             "the batch job was recorded")  # fmt: skip
    name = _records(tmp_path)[0]["name"]

    cancelled = _batches(tmp_path, env, "cancel", "coins.yaml")
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancelled {name}" in cancelled.stdout
    code, out, err = finish(proc)  # the waiting run sees CANCELLED: on_failure fail

    assert code == 1, out + err
    assert "ended CANCELLED" in err
    unknown = _batches(tmp_path, env, "cancel", "coins.yaml", "batches/nosuchjob")
    assert unknown.returncode == 2 and "no active batch job" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    listed = _batches(tmp_path, env, "list", "coins.yaml", "--no-refresh")
    assert "CANCELLED (failed)" in listed.stdout
