"""Ctrl-C / SIGTERM during `mediagen run`, and what the command prints, as a user sees it.

Real processes throughout: `python -m mediagen.cli.app run` in its own session (so a
signal to its process group is a terminal's Ctrl-C), its own temporary local
Prefect API, the gemini backend through the real google-genai SDK against the
local Gemini server with latency, a local bucket. Backend calls are counted on
the server. Elapsed times are printed (run with -s), never asserted beyond
generous did-not-hang bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mediagen.testing import FakeGeminiServer
from mediagen.testing.gemini_server import Fault
from tests.conftest import REPO
from tests.support.gemini import TEST_KEY

IMAGES = 10
LATENCY_S = 1.0
HANG_S = 300  # did-not-hang bound for anything on a loaded 2-core machine
SPEC = {
    "name": "coins",
    "backend": "gemini",
    "images": [
        {"id": f"coin{n:02d}", "prompt": f"a gold coin number {n}", "size": "thumbnail"}
        for n in range(IMAGES)
    ],
}


@pytest.fixture
def slow_gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        server.script(Fault.slow(LATENCY_S), times=None)
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "coins.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return tmp_path


def env_for(cwd: Path, server: FakeGeminiServer, **extra: str) -> dict[str, str]:
    """A user's shell: no PREFECT_API_URL (the command starts its own local API)."""
    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return env | {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "200",
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
        "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.02",
        "MEDIAGEN_RETRY_BASE_DELAY": "0.01",
        "MEDIAGEN_BUCKET_DIR": str(cwd / "bucket"),
        "MEDIAGEN_WORK_DIR": str(cwd / "work"),
        **extra,
    }


def start(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"mediagen did not exit:\n{out}\n{err}")
    return proc.returncode, out, err


def wait_for(condition: object, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + HANG_S
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            pytest.fail(f"mediagen exited before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def originals(cwd: Path) -> list[Path]:
    return sorted((cwd / "bucket" / "coins" / "_originals").glob("*.json"))


def image_prompts(server: FakeGeminiServer) -> Counter[str]:
    return Counter(r.prompt for r in server.image_requests)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_writes_a_partial_manifest_and_the_rerun_resumes(
    project: Path, slow_gemini: FakeGeminiServer, signum: signal.Signals
) -> None:
    # Generous grace: the claim under test is "what was paid for is kept", not speed.
    env = env_for(project, slow_gemini, MEDIAGEN_INTERRUPT_GRACE="20")
    proc = start(project, env, "run", "coins.yaml", "--concurrency", "2")
    wait_for(lambda: len(originals(project)) >= 2, proc, "two images were generated")
    signalled = time.monotonic()
    os.killpg(proc.pid, signum)  # the whole group, as a terminal's Ctrl-C does
    code, out, err = finish(proc)
    print(f"\n{signum.name}: exit {code} {time.monotonic() - signalled:.1f} s after the signal")
    lines = (out + err).splitlines()
    assert code == 130, out + err
    assert len(lines) <= 10 and "Traceback" not in err and "ERROR" not in err, out + err
    assert f"{signum.name}: stopping" in err and "partial manifest:" in err

    manifest = json.loads((project / "bucket/coins/manifest.json").read_text())
    statuses = Counter(e["status"] for e in manifest["images"].values())
    assert set(statuses) <= {"ok", "pending"} and sum(statuses.values()) == IMAGES
    assert statuses["ok"] >= 2 and statuses["pending"] >= 1, statuses
    for entry in manifest["images"].values():
        if entry["status"] == "ok":
            assert (project / "bucket" / entry["key"]).is_file()
    assert (project / "bucket/coins/index.html").is_file()  # the gallery, too
    first = image_prompts(slow_gemini)
    # Every call the backend answered left its original: nothing paid for was dropped.
    assert len(originals(project)) == sum(first.values())
    done = {e["prompt"] for e in manifest["images"].values() if e["status"] == "ok"}

    rerun = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "coins.yaml"], cwd=project, env=env,
        capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = image_prompts(slow_gemini)
    again = after - first
    assert not done & set(again), "an image the first run published was asked again"
    assert max(after.values()) == 1, "an original was generated twice"
    assert sum(after.values()) == IMAGES
    final = json.loads((project / "bucket/coins/manifest.json").read_text())
    assert {e["status"] for e in final["images"].values()} == {"ok"}


def test_ctrl_c_while_the_local_api_starts_exits_130_quietly(
    project: Path, slow_gemini: FakeGeminiServer
) -> None:
    env = env_for(project, slow_gemini)
    proc = start(project, env, "run", "coins.yaml")
    api_log = project / ".prefect" / "mediagen-local-api.log"
    wait_for(api_log.exists, proc, "the local Prefect API started starting")
    signalled = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    code, out, err = finish(proc)
    print(f"\nstart-up SIGINT: exit {code} {time.monotonic() - signalled:.1f} s after the signal")
    assert code == 130, out + err
    assert len((out + err).splitlines()) <= 10 and "Traceback" not in out + err
    assert slow_gemini.requests == []
