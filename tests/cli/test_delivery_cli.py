"""``delivery`` from a shell: ``mediagen plan`` shows what batch/flex save, ``mediagen run
--delivery flex`` asks the local Gemini server's Flex tier through the real SDK and records
the flex price, and ``validate`` refuses flex for a model without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mediagen.backends.gemini import pricing
from mediagen.testing import FakeGeminiServer
from tests.support.cli import mediagen_on_server, user_env

pytestmark = pytest.mark.usefixtures("prefect_server")

SPEC = {
    "name": "flexible",
    "backend": "gemini",
    "defaults": {"size": "thumbnail", "quality": "fast"},
    "images": [
        {"id": "coin", "prompt": "a gold coin"},
        {"id": "jar", "prompt": "a jar of coins", "delivery": "sync"},
    ],
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flexible.yaml").write_text(yaml.safe_dump(SPEC, sort_keys=False))
    return tmp_path


def test_a_flex_run_records_the_flex_price(project, gemini_server: FakeGeminiServer):
    result = mediagen_on_server(
        project, "run", "flexible.yaml", "--delivery", "flex", env=user_env(gemini_server)
    )
    assert result.returncode == 0, result.stderr[-3000:]

    # --delivery overrides the spec, the image's own "sync" included; the SDK sent the tier.
    assert sorted(r.service_tier for r in gemini_server.image_requests) == ["flex", "flex"]
    manifest = json.loads((project / "media-bucket/flexible/manifest.json").read_text())
    total = 0.0
    for entry in manifest["images"].values():
        assert entry["status"] == "ok" and entry["delivery"] == "flex"
        standard = pricing.cost_usd(entry["model"], entry["usage"])
        assert standard > 0 and entry["cost_usd"] == pytest.approx(standard / 2)
        total += entry["cost_usd"]
    assert manifest["cost_usd"] == pytest.approx(total)
    # The ledger's record of each paid answer says how it was served.
    records = [
        json.loads(p.read_text())
        for p in project.glob("media-bucket/flexible/_costs/*/*.paid.json")
    ]
    assert len(records) == 2 and {r["delivery"] for r in records} == {"flex"}


def test_switching_delivery_regenerates_nothing(project, gemini_server: FakeGeminiServer):
    env = user_env(gemini_server)
    first = mediagen_on_server(project, "run", "flexible.yaml", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert [r.service_tier for r in gemini_server.image_requests] == ["", ""]
    again = mediagen_on_server(project, "run", "flexible.yaml", "--delivery", "flex", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(gemini_server.image_requests) == 2  # same gen_key: the originals are reused


def test_plan_shows_the_delivery_and_the_saving(project, gemini_server: FakeGeminiServer):
    result = mediagen_on_server(project, "plan", "flexible.yaml", env=user_env(gemini_server))
    assert result.returncode == 0, result.stderr
    assert "delivery:" not in result.stdout  # all sync: nothing saved, no line about it

    flex = mediagen_on_server(
        project, "plan", "flexible.yaml", "--delivery", "batch", env=user_env(gemini_server)
    )
    assert flex.returncode == 0, flex.stderr
    rows = [line for line in flex.stdout.splitlines() if "coin" in line or "jar" in line]
    assert len(rows) == 2 and all(" batch " in row for row in rows)
    # Two fast thumbnails (512: 747 image tokens at $60/M, plus prompt and thinking): each
    # $0.045 at sync prices, half of it saved.
    assert "delivery: batch 2 · saving: $0.045" in flex.stdout
    assert "of $0.09" in flex.stdout and "estimated cost: $0.045" in flex.stdout
    assert gemini_server.requests == []  # planning never calls the API


def test_validate_refuses_flex_for_a_model_without_it(project, gemini_server: FakeGeminiServer):
    image = {"id": "lite", "prompt": "a coin", "model": "gemini-3.1-flash-lite-image"}
    lite = {**SPEC, "images": [{**image, "delivery": "flex"}]}
    (project / "lite.yaml").write_text(yaml.safe_dump(lite))
    result = mediagen_on_server(project, "validate", "lite.yaml", env=user_env(gemini_server))
    assert result.returncode == 2
    assert "images[0] (lite)" in result.stderr and "Flex tier" in result.stderr
    assert "Traceback" not in result.stderr

    typo = mediagen_on_server(
        project, "run", "flexible.yaml", "--delivery", "flexx", env=user_env(gemini_server)
    )
    assert typo.returncode == 2 and "flexx" in typo.stderr and "Traceback" not in typo.stderr
    assert gemini_server.requests == []
