"""Expanding a spec into jobs: resolved options and content-addressed keys."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob, expand_spec, gen_key_for, out_key_for, prefix_of
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from mediagen.spec.vocabulary import QUALITY_LEVELS, THEMES, Quality, Theme

SETTINGS = Settings(backend="offline", _env_file=None)
HEX64 = r"[0-9a-f]{64}"


def spec_data(**image: Any) -> dict[str, Any]:
    return {"name": "keys", "images": [{"id": "coin", "prompt": "A gold coin", **image}]}


def expand(data: dict[str, Any]) -> list[ImageJob]:
    return expand_spec(parse_spec(data), SETTINGS)


def one(**image: Any) -> ImageJob:
    [job] = expand(spec_data(**image))
    return job


# --- keys --------------------------------------------------------------------


def test_keys_are_deterministic_across_calls() -> None:
    first, second = one(), one()
    assert first.gen_key == second.gen_key
    assert [o.out_key for o in first.outputs] == [o.out_key for o in second.outputs]
    assert first == second


def test_keys_are_deterministic_across_processes() -> None:
    # No set/dict iteration order, hash seed or machine detail leaks into a key.
    code = (
        "import json\n"
        "from mediagen.plan.jobs import expand_spec\n"
        "from mediagen.settings import Settings\n"
        "from mediagen.spec.models import parse_spec\n"
        f"data = json.loads({json.dumps(json.dumps(spec_data(formats=['png', 'webp'])))})\n"
        "[job] = expand_spec(parse_spec(data), Settings(backend='offline', _env_file=None))\n"
        "print(json.dumps([job.gen_key, [o.out_key for o in job.outputs]]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "987"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    here = one(formats=["png", "webp"])
    assert json.loads(out) == [here.gen_key, [o.out_key for o in here.outputs]]


def test_gen_key_ignores_the_image_id() -> None:
    before, after = one(id="coin"), one(id="renamed-coin")
    assert before.gen_key == after.gen_key  # renaming costs no new generation
    assert before.outputs[0].out_key == after.outputs[0].out_key
    assert before.original_key == after.original_key
    assert before.outputs[0].object_key != after.outputs[0].object_key  # but the name follows
    assert before.request.image_id == "coin" and after.request.image_id == "renamed-coin"


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "A silver coin"},
        {"theme": "vintage"},
        {"quality": "high"},
        {"size": "hero"},
        {"size": "800x600"},
        {"seed": 7},
        {"model": "another-model"},
        {"brand_colors": ["#0A7B83"]},
        {"brand_colors": ["#0A7B83 teal"]},  # the name changes the prompt
        {"constraints": ["no text"]},
        {"finance_context": False},
    ],
    ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()),
)
def test_gen_key_changes_with_what_the_backend_is_asked(change: dict[str, Any]) -> None:
    assert one(**change).gen_key != one().gen_key


def test_gen_key_covers_backend_and_variant() -> None:
    request = one().request
    keys = {
        gen_key_for("offline", request),
        gen_key_for("gemini", request),
        gen_key_for("offline", request, variant=1),
    }
    assert len(keys) == 3
    assert gen_key_for("offline", request) == one().gen_key
    renamed = dataclasses.replace(request, image_id="something-else")
    assert gen_key_for("offline", renamed) == gen_key_for("offline", request)


def test_tags_and_metadata_do_not_change_keys() -> None:
    plain = one()
    tagged = one(tags=["goal"], metadata={"lesson": "x"})
    assert tagged.gen_key == plain.gen_key
    assert tagged.outputs[0].out_key == plain.outputs[0].out_key
    assert (tagged.tags, tagged.metadata) == (("goal",), {"lesson": "x"})


def test_out_key_changes_with_format_but_gen_key_does_not() -> None:
    job = one(formats=["png", "webp", "jpeg", "avif"])
    assert len({o.out_key for o in job.outputs}) == 4
    assert one(formats=["webp"]).gen_key == one(formats=["png"]).gen_key == job.gen_key
    assert one(formats=["webp"]).outputs[0].out_key == job.outputs[1].out_key


def test_out_key_depends_on_processing_version(monkeypatch: pytest.MonkeyPatch) -> None:
    job = one()
    spec = job.outputs[0].spec
    assert out_key_for(job.gen_key, spec) == job.outputs[0].out_key
    monkeypatch.setattr(keys, "PROCESSING_VERSION", keys.PROCESSING_VERSION + 1)
    assert out_key_for(job.gen_key, spec) != job.outputs[0].out_key


def test_keys_are_sha256_hex() -> None:
    job = one()
    assert len(job.gen_key) == 64 and int(job.gen_key, 16) >= 0
    assert all(len(o.out_key) == 64 for o in job.outputs)


# --- object keys and prefix --------------------------------------------------


def test_object_keys_are_prefix_id_hash8_ext() -> None:
    job = one(formats=["png", "jpeg", "webp", "avif"])
    assert [o.object_key for o in job.outputs] == [
        f"keys/coin-{o.out_key[:8]}.{ext}"
        for o, ext in zip(job.outputs, ["png", "jpg", "webp", "avif"], strict=True)
    ]
    assert job.original_key == f"keys/_originals/{job.gen_key}"


def test_prefix_defaults_to_the_spec_name_and_can_be_set() -> None:
    data = spec_data()
    assert prefix_of(parse_spec(data)) == "keys"
    for prefix, expected in [("media/goals/", "media/goals"), ("/", ""), ("", "")]:
        spec = parse_spec({**data, "storage": {"prefix": prefix}})
        assert prefix_of(spec) == expected
        [job] = expand_spec(spec, SETTINGS)
        key = job.outputs[0].object_key
        name = f"coin-{job.outputs[0].out_key[:8]}.png"
        assert key == (f"{expected}/{name}" if expected else name)


def test_the_prefix_does_not_change_keys() -> None:
    moved = expand(spec_data() | {"storage": {"prefix": "elsewhere"}})[0]
    assert moved.gen_key == one().gen_key
    assert moved.outputs[0].out_key == one().outputs[0].out_key


# --- resolved options --------------------------------------------------------


def test_built_in_defaults() -> None:
    job = one()
    assert (job.request.width, job.request.height, job.size_name) == (1024, 1024, "standard")
    assert job.request.quality == "standard"
    assert job.request.backend_image_size == QUALITY_LEVELS[Quality.STANDARD].backend_image_size
    assert job.request.theme == "modern"
    assert job.request.palette == THEMES[Theme.MODERN].palette
    assert [o.format for o in job.outputs] == ["png"]
    assert job.outputs[0].spec.quality == QUALITY_LEVELS[Quality.STANDARD].encoder_quality
    assert job.request.brand_colors == ()
    assert job.request.seed is None
    assert job.backend == "offline"
    assert job.request.model == "offline-procedural-v1"  # the backend's default model
    assert (job.tags, job.metadata) == ((), {})


def test_image_overrides_defaults_override_built_ins() -> None:
    data = {
        "name": "layers",
        "defaults": {
            "size": "thumbnail",
            "quality": "high",
            "theme": "vintage",
            "formats": ["webp"],
            "constraints": ["from defaults"],
            "tags": ["default-tag"],
            "seed": 1,
        },
        "images": [
            {"id": "inherits", "prompt": "p"},
            {
                "id": "overrides",
                "prompt": "p",
                "size": {"width": 800, "height": 500},
                "theme": "playful",
                "formats": ["jpeg", "png"],
                "constraints": [],  # an empty list clears the default
                "seed": 2,
            },
        ],
    }
    inherits, overrides = expand(data)
    assert (inherits.request.width, inherits.request.height) == (320, 320)
    assert inherits.size_name == "thumbnail"
    assert (inherits.request.quality, inherits.request.theme) == ("high", "vintage")
    assert [o.format for o in inherits.outputs] == ["webp"]
    assert inherits.outputs[0].spec.quality == QUALITY_LEVELS[Quality.HIGH].encoder_quality
    assert "from defaults" in inherits.prompt
    assert (inherits.tags, inherits.request.seed) == (("default-tag",), 1)

    assert (overrides.request.width, overrides.request.height) == (800, 500)
    assert overrides.size_name == "800x500"
    assert overrides.request.quality == "high"  # not set on the image: from defaults
    assert overrides.request.theme == "playful"
    assert [o.format for o in overrides.outputs] == ["jpeg", "png"]
    assert "from defaults" not in overrides.prompt
    assert overrides.tags == ("default-tag",)
    assert overrides.request.seed == 2


def test_template_variables_override_the_image_and_defaults() -> None:
    data = {
        "name": "tpl",
        "defaults": {"theme": "corporate"},
        "images": [
            {
                "id": "g-{theme}",
                "prompt": "p",
                "theme": "minimalist",
                "matrix": {"theme": ["playful", "vintage"]},
            }
        ],
    }
    assert [(j.id, j.request.theme) for j in expand(data)] == [
        ("g-playful", "playful"),
        ("g-vintage", "vintage"),
    ]


def test_output_specs_match_the_request_size() -> None:
    job = one(size="social_landscape", formats=["jpeg"], quality="fast")
    [output] = job.outputs
    assert (output.spec.width, output.spec.height) == (1200, 630)
    assert output.spec.format == "jpeg"
    assert output.spec.quality == QUALITY_LEVELS[Quality.FAST].encoder_quality


# --- delivery (issue 16) ------------------------------------------------------


def test_delivery_resolves_from_defaults_and_image_and_defaults_to_sync() -> None:
    data = spec_data()
    data["defaults"] = {"delivery": "batch"}
    data["images"].append({"id": "note", "prompt": "A bank note", "delivery": "sync"})
    data["images"].append({"id": "bar", "prompt": "A gold bar"})
    assert [j.delivery for j in expand(data)] == ["batch", "sync", "batch"]
    assert one().delivery == "sync"


def test_delivery_is_not_part_of_the_cache_keys() -> None:
    # The same image at another price: switching delivery regenerates nothing.
    sync, flex, batch = one(), one(delivery="flex"), one(delivery="batch")
    assert sync.gen_key == flex.gen_key == batch.gen_key
    assert [o.out_key for o in sync.outputs] == [o.out_key for o in flex.outputs]
    assert sync.facts_key == flex.facts_key
    assert flex.request.delivery == "flex"  # what the backend is told
