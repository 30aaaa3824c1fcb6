"""Bucket keys are caches in users' buckets: the same inputs must give the same keys.

The values below were computed by the code before ``mediagen.plan.keys`` existed
(commit 7c43d07). If one changes, every user's next run pays for every image
again: change them only on purpose (``PROCESSING_VERSION``), never by accident.
"""

from __future__ import annotations

import pytest

from mediagen.plan import keys
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec

GEN = "f8b6f9af4b1a139b35280fe2d97b76563bd03ae922884847f71e0a44782cd1d8"
PINNED_SPEC = {
    "name": "pinned", "backend": "offline", "storage": {"prefix": "site/img"},
    "images": [{
        "id": "hero", "prompt": "a teal savings jar on a desk", "size": "social_square",
        "quality": "standard", "formats": ["png", "webp"], "seed": 7, "alt_text": "auto",
        "focal_point": "top", "variants": {"widths": [320], "formats": ["avif"]},
    }],
}  # fmt: skip


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return Settings(backend="offline")


def test_gen_out_and_facts_keys_are_the_ones_computed_before(settings):
    (job,) = expand_spec(parse_spec(PINNED_SPEC), settings)
    assert job.gen_key == GEN
    assert job.original_key == f"site/img/_originals/{GEN}"
    assert job.facts_key == "12e7eea7ebccbd3625924880e800de1a051b9c94fdaa44efce3f38d8caf4aaf9"
    assert [(o.format, o.out_key, o.object_key) for o in job.outputs] == [
        ("png", "9ad94ff5423e8941a44af474c64ba6c30d01c59af804168d7c64bf12239db69a",
         "site/img/hero-9ad94ff5.png"),
        ("webp", "d3ede9e1b47a6ba550dd0788e2f0dd482b169b26a432ddb2e7c6a4d5d3a3feb2",
         "site/img/hero-d3ede9e1.webp"),
        ("avif", "73ccbab3880bcd56144953995e2018a4f826baeae5dec9fae74d4572cb9edb44",
         "site/img/hero-320w-73ccbab3.avif"),
    ]  # fmt: skip


def test_stable_names_and_the_default_prefix_are_unchanged(settings):
    spec = parse_spec({"name": "plain", "backend": "offline", "storage": {"naming": "stable"},
                       "images": [{"id": "a", "prompt": "p"}]})  # fmt: skip
    (job,) = expand_spec(spec, settings)
    assert job.gen_key == "5c9bb91377d7a554e7f1a73d158b359d31113f564ce5dcb523f0e73377291a44"
    assert [(o.out_key, o.object_key) for o in job.outputs] == [
        ("32697de54e58c4049499f8ad776a2c80f331863ea1e7ca18d13b35f3fa3a69a3", "plain/a.png")
    ]


def test_keys_beside_an_original():
    base = keys.original_base("site/img", GEN)
    stored = keys.original_key(base, "png")
    assert stored == f"site/img/_originals/{GEN}.png"
    assert keys.sidecar_key(base) == keys.sidecar_of(stored) == f"site/img/_originals/{GEN}.json"
    identity = {"gen": GEN, "purpose": "p", "backend": "offline",
                "describe_model": "offline-prompt-v1", "v": 1}  # fmt: skip
    # The formula the engine used: f"{original_key}.alt-{canonical_hash(identity)[:16]}.json"
    answer = keys.alt_text_key(base, identity)
    assert answer == f"{base}.alt-{keys.canonical_hash(identity)[:16]}.json"
    assert answer == f"site/img/_originals/{GEN}.alt-36669545f0eb2228.json"
    listing = [stored, keys.sidecar_key(base), answer, f"{base}x.alt-0.json", "site/img/a.png"]
    assert keys.owned_by_original(stored, listing) == {stored, keys.sidecar_key(base), answer}
    # A dot in the prefix does not confuse the original's base.
    assert keys.sidecar_of(f"v1.0/_originals/{GEN}.webp") == f"v1.0/_originals/{GEN}.json"


def test_keys_of_the_spec_level_objects():
    assert keys.manifest_key("p") == "p/manifest.json"
    assert keys.manifest_key("p", "blog") == "p/manifest.blog.json"
    assert keys.manifest_key("") == "manifest.json"
    assert keys.shared_manifest_spec("p", "p/manifest.blog.json") == "blog"
    assert keys.shared_manifest_spec("p", "p/manifest.json") is None
    assert keys.gallery_key("p") == "p/index.html"
    assert keys.gallery_key("p", "blog") == "p/index.blog.html"
    assert keys.lease_key("p") == "p/_lease.json"
    assert keys.ledger_prefix("") == "_costs/"
    assert keys.ledger_marker_key("p", "img 1", "run/1", "tok", "image") == (
        "p/_costs/img_1/run_1.tok.image.inflight.json")  # fmt: skip
    assert keys.ledger_record_key("p", "a", "r", "t", 2, "image", 0.039, "paid") == (
        "p/_costs/a/r.t-2.image.39000000.paid.json")  # fmt: skip
    assert keys.never_deleted("p", "blog") >= {"p/manifest.json", "p/manifest.blog.json",
                                                "p/_lease.json"}  # fmt: skip
