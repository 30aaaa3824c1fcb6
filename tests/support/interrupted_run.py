"""A ten-image spec on a slow Gemini, run by `mediagen` in a subprocess, then stopped.

What the interrupt tests (Ctrl-C, SIGTERM: tests/cli/test_cli_interrupts.py) and the
cancel tests (a Cancel from the Prefect UI: tests/e2e/test_cancel.py) share: the
project folder, the slow local Gemini server, the user's environment, starting and
finishing the command, and what the bucket and the server's request log say after.

Registered as a pytest plugin by tests/conftest.py. Fixtures: ``coins_project`` and
``slow_gemini`` (whose latency a test module sets by overriding ``gemini_latency``).
Real processes throughout: `python -m mediagen.cli.app` in its own session (so a
signal to its process group is a terminal's Ctrl-C), the gemini backend through the
real google-genai SDK against the local Gemini server, a local bucket. Elapsed times
are printed (run with -s), never asserted beyond generous did-not-hang bounds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from mediagen.testing import FakeGeminiServer
from mediagen.testing.gemini_server import Fault
from tests.support.gemini import TEST_KEY
from tests.support.paths import REPO

IMAGES = 10
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
def gemini_latency() -> float:
    """Seconds the local Gemini server takes per answer (override in a test module)."""
    return 1.0


@pytest.fixture
def slow_gemini(gemini_latency: float) -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=128, max_side=256) as server:
        server.script(Fault.slow(gemini_latency), times=None)
        yield server


@pytest.fixture
def coins_project(tmp_path: Path) -> Path:
    """A user's folder with ``coins.yaml``: ten thumbnails on the gemini backend."""
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
    """`mediagen ARGS` in its own session (a signal to its group is a terminal's Ctrl-C)."""
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


def wait_for(condition: Callable[[], object], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + HANG_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"mediagen exited before {what}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def originals(cwd: Path) -> list[Path]:
    """The sidecars of the originals in the bucket: one per answer the backend gave."""
    return sorted((cwd / "bucket" / "coins" / "_originals").glob("*.json"))


def image_prompts(server: FakeGeminiServer) -> Counter[str]:
    return Counter(r.prompt for r in server.image_requests)


def check_partial_and_resume(
    folder: Path,
    gemini: FakeGeminiServer,
    env: dict[str, str],
    run_id: str | None = None,
    *,
    min_published: int = 2,
) -> None:
    """After a stopped run: the partial manifest and gallery, every paid answer kept; then
    a re-run asks the backend only for what was never made, and publishes everything.

    ``min_published``: images the stopped run must have published itself (the two whose
    originals existed when the test stopped it)."""
    manifest = json.loads((folder / "bucket/coins/manifest.json").read_text())
    if run_id is not None:
        assert manifest["run_id"] == run_id
    statuses = Counter(e["status"] for e in manifest["images"].values())
    assert set(statuses) <= {"ok", "pending"} and sum(statuses.values()) == IMAGES
    assert statuses["ok"] >= min_published and statuses["pending"] >= 1, statuses
    for entry in manifest["images"].values():
        if entry["status"] == "ok":
            assert (folder / "bucket" / entry["key"]).is_file()
    assert (folder / "bucket/coins/index.html").is_file()  # the gallery, too
    first = image_prompts(gemini)
    # Every call the backend answered left its original: nothing paid for was dropped.
    assert len(originals(folder)) == sum(first.values())
    done = {e["prompt"] for e in manifest["images"].values() if e["status"] == "ok"}

    rerun = subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", "run", "coins.yaml"], cwd=folder, env=env,
        capture_output=True, text=True, timeout=HANG_S,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    after = image_prompts(gemini)
    assert not done & set(after - first), "an image the stopped run published was asked again"
    assert max(after.values()) == 1, "an original was generated twice"
    assert sum(after.values()) == IMAGES
    final = json.loads((folder / "bucket/coins/manifest.json").read_text())
    assert {e["status"] for e in final["images"].values()} == {"ok"}
