"""The local Prefect API started early (``mediagen run`` starts it while it imports Prefect).

Real processes: the API is Prefect's own server app in a subprocess, as the CLI runs it.
What is asserted is who starts and who stops it, never how fast.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from flows.local_api import local_api, start_early


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    return tmp_path / "prefect-home"


def test_a_server_in_the_environment_means_no_early_api(
    own_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert start_early() is None
    assert not own_home.exists()  # nothing started, not even its log


def test_a_server_named_in_the_settings_stops_the_early_api_unused(own_home: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    early = start_early()
    assert early is not None and early.proc.poll() is None
    # e.g. PREFECT_API_URL in the user's Prefect profile: seen only once Prefect is imported
    with (
        temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        local_api(early) as url,
    ):
        assert url is None
        assert early.proc.poll() is not None  # stopped before the run, never used


@pytest.mark.timeout(300)
def test_the_run_uses_the_early_api_and_stops_it_after(own_home: Path) -> None:
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        get_current_settings,
        temporary_settings,
    )

    # A new home: the API creates its database first, slow on a loaded machine.
    wait = {PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 240}
    with temporary_settings(updates=wait, restore_defaults={PREFECT_API_URL}):
        early = start_early()
        assert early is not None
        with local_api(early) as url:
            assert url == early.url  # the early process, not a second one
            assert PREFECT_API_URL.value() == url
            assert httpx.get(f"{url}/health", timeout=10).status_code == 200
            # no flow-run heartbeats for an API that ends with the run (each run's end
            # would wait for Prefect's heartbeat thread)
            assert get_current_settings().flows.heartbeat_frequency is None
        # asked to stop with the run (not waited for): it ends on its own, by SIGTERM
        assert early.proc.wait(timeout=60) == -signal.SIGTERM
    assert (own_home / "mediagen-local-api.log").exists()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.timeout(180)
def test_a_run_killed_with_sigkill_takes_its_api_with_it(own_home: Path) -> None:
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parents[2]
    script = (
        "import time\nfrom flows.local_api import start_early\n"
        "early = start_early()\nprint(early.proc.pid, flush=True)\ntime.sleep(600)\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", script], cwd=repo, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )  # fmt: skip
    api = int(run.stdout.readline())  # type: ignore[union-attr]
    try:
        assert _alive(api)
        run.send_signal(signal.SIGKILL)  # no atexit, no finally: only the kernel can tell
        run.wait()
        deadline = time.monotonic() + 120  # a did-not-hang bound, not a speed
        while _alive(api) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(api), "the local API outlived the run that started it"
    finally:  # whatever happened, stop both
        run.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(api, signal.SIGKILL)
