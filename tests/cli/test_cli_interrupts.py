"""Ctrl-C / SIGTERM during `mediagen run`, and what the command prints, as a user sees it.

Real processes throughout: `python -m mediagen.cli.app run` in its own session (so a
signal to its process group is a terminal's Ctrl-C), its own temporary local
Prefect API, the gemini backend through the real google-genai SDK against the
local Gemini server with latency, a local bucket. Backend calls are counted on
the server. Elapsed times are printed (run with -s), never asserted beyond
generous did-not-hang bounds. The set-up is shared with the Cancel tests
(tests/support/interrupted_run.py).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mediagen.testing import FakeGeminiServer
from tests.support.interrupted_run import (
    check_partial_and_resume,
    env_for,
    finish,
    originals,
    start,
    wait_for,
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_writes_a_partial_manifest_and_the_rerun_resumes(
    coins_project: Path, slow_gemini: FakeGeminiServer, signum: signal.Signals
) -> None:
    project = coins_project
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
    check_partial_and_resume(project, slow_gemini, env)


def test_ctrl_c_while_the_local_api_starts_exits_130_quietly(
    coins_project: Path, slow_gemini: FakeGeminiServer
) -> None:
    project = coins_project
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
