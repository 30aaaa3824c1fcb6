"""kill -9 in the middle of a paid run, then a re-run: the manifest's total_cost_usd is every
paid answer's price × usage, and the answers cut off in flight are listed as unknown.

The real `mediagen run` in a subprocess (the real Prefect engine against the test session's
server, the real google-genai SDK against the local Gemini server), killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from mediagen.backends.gemini import pricing
from mediagen.backends.gemini.response import usage_of
from mediagen.manifest import costs
from mediagen.testing import FakeGeminiServer, Fault
from tests.support.gemini import TEST_KEY

pytestmark = pytest.mark.usefixtures("prefect_server")

REPO = Path(__file__).resolve().parents[2]
COUNT = 12


def start(cwd: Path, server: FakeGeminiServer) -> subprocess.Popen[str]:
    from prefect.settings import PREFECT_API_URL

    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_LOGGING")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
        "MEDIAGEN_BUCKET_DIR": str(cwd / "bucket"),
        "MEDIAGEN_WORK_DIR": str(cwd / "work"),
        "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.02",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mediagen.cli.app", "run", "crash.yaml", "--concurrency", "3"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def ledger(cwd: Path) -> list[tuple[str, dict[str, str]]]:
    """(image, fields) of every ledger record: run, what, nano (paid), state."""
    root = cwd / "bucket" / "crash" / costs.LEDGER_DIR
    found = []
    for path in root.glob("*/*.json") if root.exists() else []:
        match = costs._RECORD.match(path.name)
        if match:
            found.append((path.parent.name, match.groupdict()))
    return found


def test_kill_9_then_rerun_accounts_for_every_paid_answer(tmp_path):
    images = [{"id": f"item-{i:02d}", "prompt": f"savings jar item-{i:02d}", "size": "thumbnail"}
              for i in range(COUNT)]  # fmt: skip
    (tmp_path / "crash.yaml").write_text(yaml.safe_dump({"name": "crash", "images": images}))
    with FakeGeminiServer(api_key=TEST_KEY, image_side=64, max_side=128) as server:
        server.script(Fault.slow(0.8), times=None)  # every answer takes a while
        first = start(tmp_path, server)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                states = [f["state"] for _, f in ledger(tmp_path)]
                if states.count("paid") >= 4 and "inflight" in states:
                    break
                assert first.poll() is None, first.communicate()[1][-3000:]
                time.sleep(0.05)
            else:
                pytest.fail("the first run never got going")
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        killed = [f for _, f in ledger(tmp_path) if f["state"] == "inflight"]
        assert killed, "nothing was in flight at the kill"
        time.sleep(1.0)  # let the server finish answering the dead client

        second = start(tmp_path, server)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 0, err[-3000:]
        requests = server.requests

    manifest = json.loads((tmp_path / "bucket" / "crash" / "manifest.json").read_text())
    assert manifest["counts"]["ok"] == COUNT

    # What the server answered (and so billed), per image, at the catalogue's prices.
    billed: dict[str, float] = defaultdict(float)
    for r in requests:
        if r.status == 200:
            image = r.prompt.split("item-")[1][:2]
            billed[f"item-{image}"] += pricing.cost_usd(r.model, usage_of(r.usage))
    recorded: dict[str, float] = defaultdict(float)
    unknown: dict[str, int] = defaultdict(int)
    for image, fields in ledger(tmp_path):
        if fields["state"] == "paid":
            recorded[image] += int(fields["nano"]) / 1e9
        else:
            unknown[image] += 1

    # total_cost_usd is the sum of every recorded paid answer, crashed run included ...
    assert manifest["total_cost_usd"] == pytest.approx(sum(recorded.values()))
    # ... which is everything the server billed, except the answers cut off in flight,
    # and those are listed as unknown, each once.
    listed = sorted(u["key"].rsplit("/", 1)[-1] for u in manifest["unknown_cost"])
    assert len(listed) == sum(unknown.values()) >= 1
    assert {u["run_id"] for u in manifest["unknown_cost"]} != {manifest["run_id"]}
    most = max(billed.values())
    for image in billed:
        if unknown[image]:
            assert 0 <= billed[image] - recorded[image] <= unknown[image] * most + 1e-9
        else:
            assert recorded[image] == pytest.approx(billed[image]), image
    # Each image says what it cost and which run paid, the killed one included.
    payers = {e["cost_run_id"] for e in manifest["images"].values()}
    assert all(e["cost_usd"] > 0 for e in manifest["images"].values())
    assert len(payers) == 2 and manifest["run_id"] in payers
    assert manifest["cost_usd"] < manifest["total_cost_usd"]
