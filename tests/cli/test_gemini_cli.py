"""`mediagen` from a shell, as a user runs it, with the gemini backend pointed at the local
fake Gemini server (MEDIAGEN_GEMINI_BASE_URL) and a dummy key, recorded on a Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from mediagen.testing import FakeGeminiServer
from tests.support.cli import mediagen_on_server, user_env
from tests.support.gemini import TEST_KEY
from tests.support.prefect_records import flow_run_texts

pytestmark = pytest.mark.usefixtures("prefect_server")

SPEC = {
    "name": "launch",
    "backend": "gemini",
    "images": [
        {"id": "hero", "prompt": "a rocket made of coins", "size": "hero", "formats": ["webp"]},
        {"id": "thumb", "prompt": "a small piggy bank", "size": "thumbnail", "quality": "fast"},
    ],
}


@pytest.fixture
def project(tmp_path: Path, gemini_server: FakeGeminiServer) -> Path:
    (tmp_path / "launch.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return tmp_path


def test_plan_shows_cost_and_refuses_over_budget(project, gemini_server):
    env = user_env(gemini_server)
    result = mediagen_on_server(project, "plan", "launch.yaml", env=env)
    assert result.returncode == 0, result.stderr
    assert "gemini-3.1-flash-image" in result.stdout
    # The fast thumbnail is a 512 image (747 tokens at $60/M), the hero a 2K one (1680),
    # each with the model's typical 150 thinking tokens at $3/M and its prompt.
    assert "$0.045" in result.stdout and "$0.101" in result.stdout
    assert "estimated cost: $0.14" in result.stdout

    (project / "tight.yaml").write_text(yaml.safe_dump({**SPEC, "budget_usd": 0.05}))
    tight = mediagen_on_server(project, "plan", "tight.yaml", env=env)
    assert tight.returncode == 2
    assert "exceeds budget_usd $0.0500" in tight.stderr and "Traceback" not in tight.stderr
    assert gemini_server.requests == []  # planning never calls the API


def test_run_end_to_end_and_the_key_is_nowhere(project, gemini_server):
    result = mediagen_on_server(project, "-v", "run", "launch.yaml", env=user_env(gemini_server))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "offline renderer" not in result.stderr  # the key selected gemini
    assert len(gemini_server.requests) == 2
    assert {r.api_key for r in gemini_server.requests} == {TEST_KEY}

    manifest = json.loads((project / "media-bucket/launch/manifest.json").read_text())
    hero = manifest["images"]["hero"]
    assert hero["status"] == "ok" and hero["model"] == "gemini-3.1-flash-image"
    assert hero["usage"]["image_tokens"] == 1680 and hero["cost_usd"] > 0.1
    with Image.open(project / "media-bucket" / hero["key"]) as image:
        assert image.size == (1920, 1080) and image.format == "WEBP"
    assert f"cost: ${manifest['cost_usd']:.4f}" in result.stdout

    texts = [result.stdout, result.stderr]
    texts += [p.read_bytes().decode("latin-1") for p in project.rglob("*")
              if p.is_file() and ".prefect" not in p.parts]  # fmt: skip
    texts += flow_run_texts(manifest["run_id"])
    assert texts[2:] and all(TEST_KEY not in text for text in texts)


def test_bad_key_exits_2_with_one_message(project, gemini_server):
    many = {**SPEC, "images": [{"id": f"i{n}", "prompt": f"coin {n}", "size": "thumbnail"}
                               for n in range(12)]}  # fmt: skip
    (project / "many.yaml").write_text(yaml.safe_dump(many))
    result = mediagen_on_server(project, "run", "many.yaml", "--concurrency", "3",
                      env=user_env(gemini_server, key="AIza-not-the-right-key"))  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(gemini_server.requests) <= 3  # the calls in flight; nothing after the refusal
    # Twelve images, one line: the command's message (no table, no progress bar).
    assert result.stderr.count("API key not valid") == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "error: run aborted" in result.stderr and "Traceback" not in result.stderr
    assert "(12 image(s) not made)" in result.stderr and "┃" not in result.stdout
    assert "AIza-not-the-right-key" not in result.stdout + result.stderr


def test_explicit_gemini_without_a_key_fails_before_any_work(project, gemini_server):
    result = mediagen_on_server(project, "run", "launch.yaml",
                      env={"MEDIAGEN_GEMINI_BASE_URL": gemini_server.base_url})  # fmt: skip
    assert result.returncode == 2
    assert "needs an API key" in result.stderr and "GEMINI_API_KEY" in result.stderr
    # Nothing made: no request, no object (the run's lease, freed, leaves at most a folder).
    bucket = project / "media-bucket"
    assert gemini_server.requests == [] and not [p for p in bucket.rglob("*") if p.is_file()]
