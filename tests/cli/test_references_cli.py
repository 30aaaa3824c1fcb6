"""`mediagen plan` and `run` with reference images, as a user runs them, against the
local Gemini server: files resolve beside the spec whatever the working folder, every
request carries its references, and editing one reference remakes only its images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mediagen.testing import FakeGeminiServer
from tests.support.cli import mediagen_on_server, user_env
from tests.support.references import write_png, write_spec

pytestmark = pytest.mark.usefixtures("prefect_server")

SPEC = """\
name: refs-cli
backend: gemini
defaults:
  size: thumbnail
  quality: fast
  references: [{file: brand/style.png, role: style}]
images:
  - id: mascot
    prompt: a piggy bank mascot waving
    references: [{file: brand/style.png, role: style}, {file: brand/mascot.png, role: subject}]
  - id: jar
    prompt: a jar of coins
"""


def test_run_sends_the_references_and_a_changed_one_remakes_only_its_images(
    tmp_path: Path, gemini_server: FakeGeminiServer
) -> None:
    specs = tmp_path / "specs"
    write_png(specs / "brand" / "style.png", (10, 120, 130))
    mascot = write_png(specs / "brand" / "mascot.png", (240, 160, 60))
    write_spec(specs / "refs.yaml", SPEC)
    env = user_env(gemini_server)

    first = mediagen_on_server(tmp_path, "run", "specs/refs.yaml", env=env)  # cwd ≠ spec folder
    assert first.returncode == 0, first.stderr[-3000:]
    counts = {r.prompt.split("\n")[0]: len(r.inline_data) for r in gemini_server.image_requests}
    assert sorted(counts.values()) == [1, 2]
    assert counts[next(p for p in counts if "mascot" in p)] == 2

    write_png(mascot, (200, 40, 160))
    plan = mediagen_on_server(tmp_path, "plan", "specs/refs.yaml", env=env)
    assert plan.returncode == 0, plan.stderr[-3000:]
    lines = {line.split("│")[1].strip(): line for line in plan.stdout.splitlines() if "│" in line}
    assert "changed" in lines["mascot"] and "unchanged" in lines["jar"]

    again = mediagen_on_server(tmp_path, "run", "specs/refs.yaml", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(gemini_server.image_requests) == 3
    assert "mascot" in gemini_server.image_requests[-1].prompt
    manifest = json.loads((tmp_path / "media-bucket/refs-cli/manifest.json").read_text())
    assert {i["id"]: i["status"] for i in manifest["images"].values()} == {
        "mascot": "ok",
        "jar": "ok",
    }
