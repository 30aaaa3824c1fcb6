"""The ``mediagen`` command end to end, as a user runs it, in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.support.cli import mediagen
from tests.support.paths import REPO


def test_run_an_example_then_rerun_is_up_to_date(project: Path) -> None:
    result = mediagen(project, "run", "specs/examples/brand-colors.yaml")
    assert result.returncode == 0, result.stderr
    assert "offline renderer" in result.stderr  # one clear notice: no key, placeholder art
    assert result.stderr.count("offline renderer") == 1
    assert "Traceback" not in result.stderr
    gallery = project / "media-bucket/brand-colors/index.html"
    assert f"gallery: {gallery.as_uri()}" in result.stdout  # the summary names the page

    manifest = json.loads((project / "media-bucket/brand-colors/manifest.json").read_text())
    sizes = {}
    for entry in manifest["images"].values():
        for out in entry["outputs"]:
            with Image.open(project / "media-bucket" / out["key"]) as im:
                sizes[(entry["id"], out["format"])] = (im.size, im.format)
    assert sizes == {
        ("brand-welcome", "png"): ((1080, 1080), "PNG"),
        ("brand-welcome", "webp"): ((1080, 1080), "WEBP"),
        ("brand-goal-reached", "jpeg"): ((1200, 630), "JPEG"),
    }
    assert "teal (#0A7B83)" in manifest["images"]["brand-welcome"]["prompt"]

    # Objects, not folders: the rerun takes (and frees) the spec's lease in the folder.
    objects = [p for p in (project / "media-bucket").rglob("*") if p.is_file()]
    mtimes = {p: p.stat().st_mtime_ns for p in objects}
    again = mediagen(project, "run", "specs/examples/brand-colors.yaml")
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    after = [p for p in (project / "media-bucket").rglob("*") if p.is_file()]
    assert {p: p.stat().st_mtime_ns for p in after} == mtimes


@pytest.mark.usefixtures("prefect_server")
def test_run_with_a_failed_image_exits_1_and_records_why(project: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    spec = {
        "name": "mixed",
        "backend": "counting",  # the test backend, found through the entry-point group
        "images": [
            {"id": "fine", "prompt": "a calm lake", "size": "thumbnail"},
            {"id": "nope", "prompt": "nothing [[blocked]]", "size": "thumbnail"},
        ],
    }
    (project / "mixed.yaml").write_text(yaml.safe_dump(spec))
    # On the session's Prefect API: only the test above pays for an ephemeral one.
    result = mediagen(
        project, "run", "mixed.yaml", env={"PREFECT_API_URL": PREFECT_API_URL.value()}
    )
    assert result.returncode == 1, result.stderr
    assert "IMAGE_SAFETY" in result.stdout
    manifest = json.loads((project / "media-bucket/mixed/manifest.json").read_text())
    assert manifest["images"]["fine"]["status"] == "ok"
    assert manifest["images"]["nope"]["status"] == "blocked"


def test_plan_shows_counts_and_bad_spec_exits_2(project: Path) -> None:
    result = mediagen(project, "plan", "specs/examples/batch-goals.yaml")
    assert result.returncode == 0, result.stderr
    assert "new: 8" in result.stdout and "goal-house-modern" in result.stdout

    (project / "bad.yaml").write_text("name: bad\nimages:\n  - id: x\n    promt: typo\n")
    bad = mediagen(project, "run", "bad.yaml")
    assert bad.returncode == 2
    assert "bad.yaml:4:5" in bad.stderr and "promt" in bad.stderr and "prompt" in bad.stderr
    assert "Traceback" not in bad.stderr

    missing = mediagen(project, "validate", "nowhere.yaml")
    assert missing.returncode == 2 and "nowhere.yaml" in missing.stderr


def test_generate_one_image_to_a_file(project: Path) -> None:
    result = mediagen(
        project, "generate", "a lighthouse at dusk", "--size", "640x360",
        "--theme", "vintage", "--quality", "fast", "--out", "out/light.webp", "--parents",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Image.open(project / "out/light.webp") as im:
        assert im.size == (640, 360) and im.format == "WEBP"
    assert not (project / "media-bucket").exists()  # no bucket involved


def test_schema_command_matches_the_saved_schema(project: Path) -> None:
    result = mediagen(project, "schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(
        (REPO / "specs/mediagen-spec.schema.json").read_text()
    )
