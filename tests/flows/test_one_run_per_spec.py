"""One run per spec, from every door: two `mediagen run` processes, a flow run beside a
`MediaClient.run_spec` call, a refusing run. Real parts only: the google-genai SDK against
the local Gemini server on 127.0.0.1, the Prefect engine on the session's test server,
local folders and moto's S3 server as buckets.

Overlap is made certain, not hoped for: the Gemini server holds every answer behind a
gate until the second run has said that it is waiting.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.run import run_flow
from mediagen.client.media_client import MediaClient
from mediagen.manifest.model import Manifest
from mediagen.storage.lease import Holder, lease_key
from mediagen.testing import FakeGeminiServer
from mediagen.testing.s3 import S3TestServer
from tests.conftest import REPO
from tests.support.gemini import TEST_KEY
from tests.support.s3 import S3_BUCKET, list_keys, s3_storage

pytestmark = pytest.mark.usefixtures("prefect_server")

BOUND = 180.0  # "did not hang" only
IMAGES = 6


class GatedGeminiServer(FakeGeminiServer):
    """The local Gemini server, whose answers wait until the test opens the gate."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = threading.Event()

    def answer(self, model: str, body: dict[str, Any], api_key: str | None) -> Any:
        self.gate.wait(BOUND)  # bounded: a broken test never hangs the suite
        return super().answer(model, body, api_key)


@pytest.fixture
def gated(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedGeminiServer]:
    with GatedGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
        monkeypatch.setenv("MEDIAGEN_BACKEND", "gemini")
        monkeypatch.setenv("MEDIAGEN_GEMINI_BASE_URL", server.base_url)
        monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", str(BOUND + 30))
        monkeypatch.setenv("MEDIAGEN_LEASE_TTL", "10")  # renewed (and polled) often
        yield server
        server.gate.set()


def goals(**extra: Any) -> dict[str, Any]:
    images = [{"id": f"goal-{i}", "prompt": f"savings goal number {i}", "size": "thumbnail"}
              for i in range(IMAGES)]  # fmt: skip
    return {"name": "goals", "backend": "gemini", "images": images, **extra}


def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def flat(text: str) -> str:
    """Rich wraps long lines: compare words, not line breaks."""
    return " ".join(text.split())


def read_holder(path: Path) -> Holder | None:
    try:
        return Holder.from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None


# -- the CLI --------------------------------------------------------------------------


def cli_env(cwd: Path, server: FakeGeminiServer, **extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_LOGGING")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the test session's Prefect server
        "COLUMNS": "200",
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
        "MEDIAGEN_GEMINI_TIMEOUT": str(BOUND + 30),
        "MEDIAGEN_LEASE_TTL": "10",
        **extra,
    }


def start_cli(cwd: Path, name: str, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=cwd, env=env, text=True,
        stdout=(cwd / f"{name}.out").open("w"), stderr=(cwd / f"{name}.err").open("w"),
    )  # fmt: skip


def test_two_cli_runs_of_one_spec_pay_once_per_image_and_both_end_well(
    workspace: Path, gated: GatedGeminiServer
) -> None:
    (workspace / "goals.yaml").write_text(yaml.safe_dump(goals(), sort_keys=False))
    env = cli_env(workspace, gated)
    lease_file = workspace / "media-bucket" / lease_key("goals")

    first = start_cli(workspace, "first", "run", "goals.yaml", env=env)
    # The first run holds the lease and its flow is making images (held at the gate).
    until(lambda: gated.image_requests or first.poll() is not None, "the first backend call")
    assert first.poll() is None, (workspace / "first.err").read_text()[-3000:]
    holder = read_holder(lease_file)
    assert holder is not None and holder.pid == first.pid and holder.run_id
    second = start_cli(workspace, "second", "run", "goals.yaml", env=env)
    until(
        lambda: "already running" in (workspace / "second.err").read_text() or second.poll(),
        "the second run's wait",
    )
    assert second.poll() is None, (workspace / "second.err").read_text()[-3000:]
    gated.gate.set()
    assert first.wait(BOUND) == 0, (workspace / "first.err").read_text()[-3000:]
    assert second.wait(BOUND) == 0, (workspace / "second.err").read_text()[-3000:]

    # Exactly one backend call per image: 1.00, not 1.4-1.9.
    prompts = sorted(r.prompt for r in gated.image_requests)
    assert len(prompts) == IMAGES and len(set(prompts)) == IMAGES
    # The second run was told who held the spec: host, pid, flow run id, since when.
    waited = flat((workspace / "second.err").read_text())
    for part in (socket.gethostname(), f"pid {first.pid}", f"run {holder.run_id}", "since"):
        assert part in waited
    assert "Traceback" not in waited
    # It planned after the first had published: nothing left to make.
    second_out = flat((workspace / "second.out").read_text())
    assert f"0 image(s) to make, {IMAGES} unchanged" in second_out and "up to date" in second_out
    manifest = Manifest.model_validate_json(
        (workspace / "media-bucket/goals/manifest.json").read_text()
    )
    assert manifest.run_id == holder.run_id
    assert [e.status for e in manifest.images.values()] == ["ok"] * IMAGES
    assert not lease_file.exists()  # both freed it


def test_refuse_exits_2_naming_the_holder(workspace: Path, gemini_server: FakeGeminiServer) -> None:
    (workspace / "goals.yaml").write_text(yaml.safe_dump(goals(), sort_keys=False))
    lease_file = workspace / "media-bucket" / lease_key("goals")
    lease_file.parent.mkdir(parents=True)
    now = time.time()
    from datetime import UTC, datetime, timedelta

    other = Holder(
        token="a" * 32, host="render-box-7", pid=31337, run_id="5f0c-flow-run", spec="goals",
        since=datetime.fromtimestamp(now, UTC) - timedelta(minutes=3),
        expires_at=datetime.fromtimestamp(now, UTC) + timedelta(minutes=10), ttl_s=60.0,
    )  # fmt: skip
    lease_file.write_bytes(other.to_bytes())
    env = cli_env(workspace, gemini_server)

    result = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "goals.yaml", "--if-running", "refuse"],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=BOUND,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    said = flat(result.stderr)
    for part in ("already running", "render-box-7", "pid 31337", "run 5f0c-flow-run", "since"):
        assert part in said
    assert "Traceback" not in said and len(result.stderr.strip().splitlines()) <= 3
    # The setting does the same; nothing was planned, called or written.
    by_setting = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "goals.yaml"], cwd=workspace,
        env=env | {"MEDIAGEN_IF_RUNNING": "refuse"}, capture_output=True, text=True, timeout=BOUND,
    )  # fmt: skip
    assert by_setting.returncode == 2 and "render-box-7" in by_setting.stderr
    assert gemini_server.requests == []
    assert not (workspace / "media-bucket/goals/manifest.json").exists()
    assert read_holder(lease_file) == other  # the holder's lease is untouched


def test_a_run_that_fails_before_any_work_frees_the_lease(
    workspace: Path, gemini_server: FakeGeminiServer
) -> None:
    (workspace / "goals.yaml").write_text(yaml.safe_dump(goals(budget_usd=0.01)))
    result = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "goals.yaml"], cwd=workspace,
        env=cli_env(workspace, gemini_server), capture_output=True, text=True, timeout=BOUND,
    )  # fmt: skip
    assert result.returncode == 2 and "exceeds budget_usd" in result.stderr
    assert not (workspace / "media-bucket" / lease_key("goals")).exists()
    assert gemini_server.requests == []


# -- flows and the Python API -----------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def flow_logs() -> Iterator[list[str]]:
    handler = _Lines()
    logger = logging.getLogger("prefect.flow_runs")
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_a_flow_run_and_run_spec_at_once_pay_once_per_image(
    workspace: Path, gated: GatedGeminiServer, flow_logs: list[str]
) -> None:
    """Deployments and the Python API both start the flow: the flow itself takes the lease."""
    spec = goals()
    results: dict[str, Manifest | BaseException] = {}

    def run(name: str, call: Callable[[], Manifest]) -> threading.Thread:
        def target() -> None:
            try:
                results[name] = call()
            except BaseException as exc:  # reported by the asserts below
                results[name] = exc

        thread = threading.Thread(target=target, name=name)
        thread.start()
        return thread

    flow = run("flow", lambda: run_flow(spec))
    until(lambda: gated.image_requests, "the flow's first backend call")
    api = run("api", lambda: MediaClient().run_spec(spec))
    until(lambda: any("already running" in line for line in flow_logs), "the wait, in the run log")
    gated.gate.set()
    for thread in (flow, api):
        thread.join(BOUND)
        assert not thread.is_alive()

    first, second = results["flow"], results["api"]
    assert isinstance(first, Manifest) and isinstance(second, Manifest), results
    assert len(gated.image_requests) == IMAGES  # 1.00 backend call per image
    assert [e.status for e in second.images.values()] == ["ok"] * IMAGES
    assert second.counts["plan_new"] == 0 and second.counts["plan_unchanged"] == IMAGES
    waited = next(line for line in flow_logs if "already running" in line)
    assert f"run {first.run_id}" in waited and f"pid {os.getpid()}" in waited
    assert not (workspace / "media-bucket" / lease_key("goals")).exists()


def test_a_failing_flow_run_frees_the_lease(workspace: Path, gemini_env: FakeGeminiServer) -> None:
    from mediagen.testing import Fault

    gemini_env.script(Fault.error(400, "bad request"), times=None)
    manifest = run_flow(goals())
    assert [e.status for e in manifest.images.values()] == ["failed"] * IMAGES
    assert not (workspace / "media-bucket" / lease_key("goals")).exists()
    assert len(gemini_env.image_requests) == IMAGES  # 400 is never retried


def test_lease_on_s3_is_held_during_the_run_and_never_an_image_or_orphan(
    s3: S3TestServer, gated: GatedGeminiServer
) -> None:
    spec = goals(storage=s3_storage(s3.endpoint_url))
    done: list[Manifest] = []
    thread = threading.Thread(target=lambda: done.append(run_flow(spec)))
    thread.start()
    until(lambda: gated.image_requests, "the run's first backend call")
    client = s3.client()
    during = Holder.from_bytes(
        client.get_object(Bucket=S3_BUCKET, Key=lease_key("goals"))["Body"].read()
    )
    gated.gate.set()
    thread.join(BOUND)
    assert done, "the run did not end"
    manifest = done[0]
    assert during is not None and during.run_id == manifest.run_id and during.pid == os.getpid()
    assert lease_key("goals") not in list_keys(client, "goals/")  # freed
    recorded = json.dumps(manifest.model_dump(mode="json"))
    assert "_lease" not in recorded  # not an image, not an orphan
    assert [e.status for e in manifest.images.values()] == ["ok"] * IMAGES
