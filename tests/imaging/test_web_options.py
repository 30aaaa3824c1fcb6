"""Spec options for web outputs: validation, job expansion, keys, plan, alt-text rules."""

from __future__ import annotations

import pytest

from mediagen.backends.offline import OfflineBackend
from mediagen.errors import SpecError
from mediagen.manifest.model import BrandFitEntry, ImageEntry, Manifest, OutputEntry
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec, out_key_for
from mediagen.settings import Settings
from mediagen.spec import alt_text
from mediagen.spec.models import parse_spec

SETTINGS = Settings(backend="offline", _env_file=None)


def jobs_for(*images: dict, **spec: object) -> list:
    return expand_spec(parse_spec({"name": "w", "images": list(images), **spec}), SETTINGS)


def test_variants_add_renditions_with_their_own_keys_and_names() -> None:
    (job,) = jobs_for(
        {
            "id": "hero",
            "prompt": "a hero",
            "size": "hero",
            "formats": ["jpeg"],
            "variants": {"widths": [480, 960, 1920, 2400], "formats": ["avif", "jpg"]},
        }
    )
    got = [(o.spec.width, o.spec.height, o.format) for o in job.outputs]
    assert got == [
        (1920, 1080, "jpeg"),  # the main output first: the entry's url
        (1920, 1080, "avif"),
        (960, 540, "avif"),
        (480, 270, "avif"),
        (960, 540, "jpeg"),  # 1920 jpeg is the main output: not repeated
        (480, 270, "jpeg"),
    ]
    assert job.outputs[0].object_key.startswith("w/hero-") and "w/hero-960w-" in (
        job.outputs[2].object_key
    )
    assert len({o.out_key for o in job.outputs}) == len(job.outputs)


def test_plain_images_keep_their_keys() -> None:
    # Options that are not set must not change the keys of outputs made before they existed.
    (job,) = jobs_for({"id": "a", "prompt": "x", "formats": ["webp"]})
    assert job.outputs[0].out_key == out_key_for(job.gen_key, job.outputs[0].spec)
    (centred,) = jobs_for({"id": "a", "prompt": "x", "formats": ["webp"], "focal_point": "center"})
    assert centred.outputs[0].out_key == job.outputs[0].out_key
    (topped,) = jobs_for({"id": "a", "prompt": "x", "formats": ["webp"], "focal_point": "top"})
    (alt,) = jobs_for({"id": "a", "prompt": "x", "formats": ["webp"], "alt_text": "A goal"})
    assert len({job.outputs[0].out_key, topped.outputs[0].out_key, alt.outputs[0].out_key}) == 3
    assert topped.gen_key == alt.gen_key == job.gen_key  # none of them costs a generation


def test_focal_point_forms_in_a_spec() -> None:
    jobs = jobs_for(
        {"id": "a", "prompt": "x", "focal_point": {"x": 0.25, "y": 1}},
        {"id": "b", "prompt": "x", "focal_point": "0.25, 1"},
        {"id": "c", "prompt": "x", "focal_point": "entropy"},
        {"id": "d", "prompt": "x"},
    )
    assert [j.focal_point for j in jobs] == ["0.25,1", "0.25,1", "entropy", "center"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"focal_point": "middle"}, "focal_point: 'middle' is not one of"),
        ({"focal_point": {"x": 1.5, "y": 0}}, "focal_point.x: 1.5 is too large"),
        ({"variants": {"widths": []}}, "variants.widths"),
        ({"variants": {"widths": [100, 100]}}, "widths are listed more than once"),
        ({"variants": {"widths": [100], "formats": ["gif"]}}, "variants.formats[0]"),
        ({"brand_fit": {"min_score": 1.5}}, "brand_fit.min_score"),
        ({"alt_text": " "}, "alt_text: must not be blank"),
    ],
)
def test_bad_web_options_are_reported_by_field(options: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"name": "w", "images": [{"id": "a", "prompt": "x", **options}]})
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_alt_text_in_a_template_is_filled_per_image() -> None:
    jobs = jobs_for(
        {
            "id": "goal-{goal}",
            "prompt": "saving for {goal}",
            "matrix": {"goal": ["car", "house"]},
            "alt_text": "Saving for a {goal}",
        }
    )
    assert [j.alt_text for j in jobs] == ["Saving for a car", "Saving for a house"]
    with pytest.raises(SpecError) as caught:
        jobs_for({"id": "g-{goal}", "prompt": "p", "matrix": {"goal": ["a"]}, "alt_text": "{gaol}"})
    assert any("alt_text uses undefined variable(s) 'gaol'" in p for p in caught.value.problems)


def test_alt_text_rules() -> None:
    assert alt_text.is_auto("auto") and alt_text.is_auto(" Auto ") and not alt_text.is_auto("A")
    long = "word " * 60
    clipped = alt_text.clip(long)
    assert len(clipped) < 125 and clipped.endswith("…") and "  " not in clipped
    assert alt_text.clip('  "A short one."  ') == "A short one."
    assert alt_text.first_sentence("Saving for a car. Style: modern.") == "Saving for a car"


def test_offline_alt_text_is_deterministic_honest_and_short() -> None:
    (job,) = jobs_for(
        {"id": "a", "prompt": "A hopeful picture of saving for a house " + "very " * 40}
    )
    backend = OfflineBackend(SETTINGS)
    first = backend.describe(b"", "image/jpeg", job.purpose, job.request)
    again = OfflineBackend(SETTINGS).describe(b"other", "image/png", "other", job.request)
    assert first == again  # from the prompt only
    assert first.startswith("Abstract modern placeholder art for: a hopeful picture of saving")
    assert len(first) < 125
    assert "Style:" not in first  # the subject, not the prompt's style sentences


def entry_for(job, **fields) -> ImageEntry:
    outputs = [
        OutputEntry(format=o.format, key=o.object_key, url="u", width=1, height=1, bytes=1,
                    sha256="s", content_type="image/png", out_key=o.out_key)
        for o in job.outputs
    ]  # fmt: skip
    return ImageEntry(
        id=job.id, status="ok", width=1, height=1, format="png", outputs=outputs,
        prompt=job.prompt, subject=job.subject, backend="offline", model="m", theme="modern",
        size="standard", quality="standard", gen_key=job.gen_key, facts_key=job.facts_key,
        **fields,
    )  # fmt: skip


BRAND = {"brand_colors": ["#0A7B83"], "brand_fit": {"min_score": 0.5, "max_delta_e": 10}}


def fit(score: float, max_delta_e: float = 10) -> BrandFitEntry:
    return BrandFitEntry(
        score=score, metric="CIEDE2000", max_delta_e=max_delta_e, min_score=0.5,
        off_brand=score < 0.5, brand_colors=["#0A7B83"],
    )  # fmt: skip


def test_plan_flags_off_brand_images_from_the_last_run() -> None:
    jobs = jobs_for(
        {"id": "on", "prompt": "x", **BRAND},
        {"id": "off", "prompt": "y", **BRAND},
        {"id": "unscored", "prompt": "z", **BRAND},
    )
    previous = Manifest(
        spec_name="w",
        spec_hash="h",
        images={"on": entry_for(jobs[0], brand_fit=fit(0.9)),
                "off": entry_for(jobs[1], brand_fit=fit(0.1))},
    )  # fmt: skip
    plan = make_plan(jobs, previous, SETTINGS)
    assert plan.off_brand == ["off"]
    scores = {i.job.id: (i.action, i.brand_score, i.off_brand) for i in plan.items}
    assert scores == {
        "on": ("unchanged", 0.9, False),
        "off": ("unchanged", 0.1, True),
        "unscored": ("new", None, False),
    }

    # A stricter threshold flags from the stored score; a new ΔE needs a new score.
    stricter = jobs_for({"id": "on", "prompt": "x", **BRAND, "brand_fit": {"min_score": 0.95}})
    plan = make_plan(stricter, previous, SETTINGS)
    assert plan.off_brand == ["on"] and plan.items[0].action == "changed"
    wider = jobs_for({"id": "on", "prompt": "x", **BRAND, "brand_fit": {"max_delta_e": 20}})
    assert make_plan(wider, previous, SETTINGS).items[0].brand_score is None


def test_plan_redoes_facts_without_a_generation() -> None:
    (job,) = jobs_for({"id": "a", "prompt": "x", "variants": {"widths": [64]}})
    previous = Manifest(spec_name="w", spec_hash="h", images={"a": entry_for(job)})
    assert make_plan([job], previous, SETTINGS).items[0].action == "unchanged"
    (resized,) = jobs_for({"id": "a", "prompt": "x", "variants": {"widths": [64], "sizes": "50vw"}})
    item = make_plan([resized], previous, SETTINGS).items[0]
    assert item.action == "changed" and "picture" in item.reason
    assert resized.gen_key == job.gen_key  # the original is reused: no backend call
