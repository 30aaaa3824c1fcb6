"""`mediagen review SPEC`: the review in a terminal, then publish (no Prefect).

A real subprocess with its answers on stdin, the gemini backend through the real
SDK against the local Gemini server (which records every prompt), a local bucket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediagen.testing import FakeGeminiServer
from tests.support.cli import CLI_TIMEOUT
from tests.support.gemini import TEST_KEY
from tests.support.paths import REPO

NOTE_HEAD = "Reviewer note: "  # how mediagen.engine.candidates.with_note adds a note
SPEC: dict[str, Any] = {
    "name": "desk",
    "backend": "gemini",
    "defaults": {"size": "thumbnail", "candidates": 2, "pick": "review"},
    "images": [
        {"id": "lamp", "prompt": "a desk lamp"},
        {"id": "mug", "prompt": "a coffee mug"},
        {"id": "plant", "prompt": "a small plant", "pick": "auto", "candidates": 1},
    ],
}


@pytest.fixture
def gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer(api_key=TEST_KEY, image_side=64, max_side=128) as server:
        yield server


def review(
    folder: Path, gemini: FakeGeminiServer, answers: str, *args: str, command: str = "review"
) -> Any:
    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(folder / ".prefect"),
        "COLUMNS": "200",
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": gemini.base_url,
        "MEDIAGEN_BUCKET_DIR": str(folder / "bucket"),
        "MEDIAGEN_WORK_DIR": str(folder / "work"),
        # `run` starts a temporary local Prefect API: give it time on a loaded machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    }
    return subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", command, "desk.yaml", *args],
        cwd=folder, env=env, input=answers, capture_output=True, text=True,
        timeout=2 * CLI_TIMEOUT,
    )  # fmt: skip


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "bucket" / "desk" / "manifest.json").read_text())["images"]


def test_review_in_the_terminal_then_publish_and_keep_the_approvals(
    tmp_path: Path, gemini: FakeGeminiServer
) -> None:
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    # lamp: a wrong answer first (asked again), then candidate 1; mug: rejected with a note,
    # then in round 2 the best of its new candidates.
    answers = "publish it\na 7\na 1\nr warmer light, no text\na\n"
    result = review(tmp_path, gemini, answers, "--reviewer", "dana")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out
    assert "not an answer: 'publish it'" in out and "no candidate '7'" in out
    assert "round 2" in out and out.count("file://") >= 6  # where to look at each candidate
    assert "2 image(s) to review, 1 to make" in out

    prompts = [r.prompt for r in gemini.image_requests]
    assert len(prompts) == 2 * 2 + 1 + 2  # two candidates each, the plant, two after the note
    noted = [p for p in prompts if p.endswith(NOTE_HEAD + "warmer light, no text")]
    assert len(noted) == 2 and all("coffee mug" in p for p in noted)

    images = manifest(tmp_path)
    assert {i: e["status"] for i, e in images.items()} == {"lamp": "ok", "mug": "ok", "plant": "ok"}
    lamp, mug = images["lamp"]["review"], images["mug"]["review"]
    assert (lamp["action"], lamp["candidate"], lamp["reviewer"], lamp["via"]) == (
        "approve", 1, "dana", "terminal")  # fmt: skip
    assert mug["notes"] == ["warmer light, no text"] and mug["rejections"][0]["reviewer"] == "dana"
    assert "review" not in images["plant"]
    published = {p.name for p in (tmp_path / "bucket" / "desk").glob("*.png")}
    assert published == {Path(images[i]["key"]).name for i in ("lamp", "mug", "plant")}

    # Again: the approvals hold, nothing is asked (stdin is empty) and nothing is paid.
    again = review(tmp_path, gemini, "")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "lamp (" not in again.stdout  # no prompt shown
    assert len(gemini.image_requests) == len(prompts)
    kept = manifest(tmp_path)
    assert {i: kept[i]["key"] for i in kept} == {i: images[i]["key"] for i in images}
    assert kept["lamp"]["review"] == images["lamp"]["review"]  # unchanged: not even re-made
    assert kept["mug"]["review"]["via"] == "kept"  # its recorded rejection and approval followed


def test_closed_input_leaves_the_images_pending(tmp_path: Path, gemini: FakeGeminiServer) -> None:
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    result = review(tmp_path, gemini, "s\n")  # lamp skipped, then stdin ends
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    images = manifest(tmp_path)
    assert (images["lamp"]["status"], images["lamp"]["review"]["action"]) == ("skipped", "skip")
    assert images["mug"]["status"] == "pending" and "mediagen review" in images["mug"]["error"]


@pytest.mark.timeout(900)  # a temporary local Prefect API, then a review, on a loaded machine
def test_a_run_without_a_server_waits_for_mediagen_review(
    tmp_path: Path, gemini: FakeGeminiServer
) -> None:
    (tmp_path / "desk.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    ran = review(tmp_path, gemini, "", command="run")
    assert ran.returncode == 1, ran.stdout + ran.stderr  # two images not published yet
    assert "Traceback" not in ran.stderr
    images = manifest(tmp_path)
    assert (images["plant"]["status"], images["lamp"]["status"]) == ("ok", "pending")
    assert "mediagen review" in images["lamp"]["error"]
    made = len(gemini.image_requests)
    assert made == 2 * 2 + 1  # every candidate is stored: the review costs nothing more

    reviewed = review(tmp_path, gemini, "a 0\na 1\n")
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert len(gemini.image_requests) == made
    images = manifest(tmp_path)
    assert {e["status"] for e in images.values()} == {"ok"}
    assert (images["lamp"]["pick"]["chosen"], images["mug"]["pick"]["chosen"]) == (0, 1)
