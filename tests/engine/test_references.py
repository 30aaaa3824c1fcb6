"""Reference images through the engine: sent as inline parts, cached by their content.

Against the local Gemini server through the real google-genai SDK: each request
carries exactly the references of its image (counted, with their bytes), and
changing one reference file regenerates only the images that use it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.manifest.model import Manifest
from mediagen.manifest.prefix_owner import claim_of, open_prefix
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import load_spec
from mediagen.storage.bucket import Bucket, BucketConfig
from mediagen.testing import FakeGeminiServer
from tests.support.references import write_png, write_spec

SPEC = """\
name: refs
backend: gemini
defaults:
  size: thumbnail
  references: [brand/red.png]
images:
  - id: both
    prompt: a piggy bank
    references:
      - {file: brand/red.png, role: style}
      - {file: brand/blue.png, role: logo}
  - id: default
    prompt: a coin jar
  - id: none
    prompt: a wallet
    references: []
"""


def run_file(path: Path) -> Manifest:
    """Plan the spec file against its bucket and run it in this thread (no Prefect)."""
    settings = get_settings()
    spec = load_spec(path)
    jobs = expand_spec(spec, settings)
    bucket = Bucket(BucketConfig.for_spec(spec, settings))
    previous = open_prefix(bucket, claim_of(spec), jobs).previous
    ctx = RunContext.for_spec(spec, settings, run_id="refs")
    with ctx.new_run(settings) as run:
        return run_spec(make_plan(jobs, previous, settings), ctx, run, previous)


def test_requests_carry_the_references_as_inline_parts(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    red = write_png(workspace / "spec" / "brand" / "red.png", (220, 30, 30))
    blue = write_png(workspace / "spec" / "brand" / "blue.png", (20, 40, 210))
    manifest = run_file(write_spec(workspace / "spec" / "refs.yaml", SPEC))
    assert {e.id: e.status for e in manifest.images.values()} == dict.fromkeys(
        ("both", "default", "none"), "ok"
    )
    sent = {r.prompt.split("\n")[0]: r for r in gemini_env.image_requests}
    assert len(sent) == 3
    both = next(r for p, r in sent.items() if "piggy bank" in p)
    default = next(r for p, r in sent.items() if "coin jar" in p)
    none = next(r for p, r in sent.items() if "wallet" in p)
    assert [m for m, _ in both.inline_data] == ["image/png", "image/png"]
    assert [d for _, d in both.inline_data] == [red.read_bytes(), blue.read_bytes()]
    assert "Reference 1 (style)" in both.prompt and "Reference 2 (logo)" in both.prompt
    assert [d for _, d in default.inline_data] == [red.read_bytes()]
    assert none.inline_data == []
    # Each reference is billed as input tokens: the server counts 1120 a picture.
    assert both.usage["promptTokenCount"] - none.usage["promptTokenCount"] > 2 * 1000


def test_changing_one_reference_regenerates_only_the_images_using_it(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    write_png(workspace / "spec" / "brand" / "red.png", (220, 30, 30))
    blue = write_png(workspace / "spec" / "brand" / "blue.png", (20, 40, 210))
    spec = write_spec(workspace / "spec" / "refs.yaml", SPEC)
    first = run_file(spec)
    assert len(gemini_env.image_requests) == 3

    again = run_file(spec)  # nothing changed: no call
    assert len(gemini_env.image_requests) == 3
    assert {e.id: e.gen_key for e in again.images.values()} == {
        e.id: e.gen_key for e in first.images.values()
    }

    write_png(blue, (20, 200, 40))  # only "both" uses blue.png
    changed = run_file(spec)
    assert len(gemini_env.image_requests) == 4
    assert "piggy bank" in gemini_env.image_requests[-1].prompt
    keys = {e.id: e.gen_key for e in changed.images.values()}
    old = {e.id: e.gen_key for e in first.images.values()}
    assert keys["both"] != old["both"]
    assert keys["default"] == old["default"] and keys["none"] == old["none"]


def test_a_reference_changed_after_planning_fails_the_image_unpaid(
    gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    red = write_png(workspace / "spec" / "brand" / "red.png", (220, 30, 30))
    write_png(workspace / "spec" / "brand" / "blue.png", (20, 40, 210))
    settings = get_settings()
    spec = load_spec(write_spec(workspace / "spec" / "refs.yaml", SPEC))
    jobs = expand_spec(spec, settings)
    write_png(red, (0, 0, 0))  # between the plan and the call
    ctx = RunContext.for_spec(spec, settings, run_id="late")
    with ctx.new_run(settings) as run:
        manifest = run_spec(make_plan(jobs, None, settings), ctx, run)
    statuses = {e.id: e.status for e in manifest.images.values()}
    assert statuses == {"both": "failed", "default": "failed", "none": "ok"}
    assert "changed after the plan" in (manifest.images["both"].error or "")
    assert len(gemini_env.image_requests) == 1  # only the image without references


@pytest.mark.parametrize("with_reference", [False, True])
def test_offline_renderer_paints_in_the_references_palette(
    workspace: Path, with_reference: bool
) -> None:
    from PIL import Image

    from mediagen.imaging.colors import dominant_colors, hex_to_rgb

    write_png(workspace / "spec" / "green.png", (10, 200, 40))
    refs = "    references: [{file: green.png, role: style}]\n" if with_reference else ""
    text = f"name: offline-refs\nbackend: offline\nimages:\n  - id: a\n    prompt: a jar\n{refs}"
    manifest = run_file(write_spec(workspace / "spec" / "offline.yaml", text))
    entry = manifest.images["a"]
    assert entry.status == "ok" and entry.key
    with Image.open(next((workspace / "bucket").rglob(entry.key.rsplit("/", 1)[-1]))) as image:
        image.thumbnail((64, 64))
        top = [hex_to_rgb(c.hex) for c in dominant_colors(image)[:3]]
    greenish = any(g > 120 and g > r + 60 and g > b + 60 for r, g, b in top)
    assert greenish is with_reference, top
