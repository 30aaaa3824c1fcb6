"""Web outputs through the real flow: renditions, srcset, placeholders, brand, alt, XMP."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from flows.run import run_flow
from mediagen.backends.offline import OfflineBackend
from mediagen.imaging.codec import read_alt_text, read_provenance
from mediagen.settings import Settings
from mediagen.storage.bucket import Bucket
from mediagen.storage.lease import LEASE_NAME
from tests.support.cli import PLUGIN_DIST, mediagen
from tests.support.web_outputs import HUMAN_ALT, exiftool, parse_srcset

pytestmark = pytest.mark.usefixtures("prefect_server")

PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


def make_spec(images: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "web", "backend": "counting", "images": images, **extra}


@pytest.fixture
def puts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    real_put = Bucket.put

    def spy(self: Bucket, key: str, data: bytes, **kwargs: Any) -> None:
        written.append(key)
        real_put(self, key, data, **kwargs)

    monkeypatch.setattr(Bucket, "put", spy)
    return written


def published(written: list[str]) -> list[str]:
    """Image files uploaded (not the manifest, not the private originals and sidecars)."""
    return [
        k
        for k in written
        if "/_originals/" not in k
        and not k.endswith(("manifest.json", "index.html", LEASE_NAME))  # nor the run's lease
    ]


def file_of(workspace: Path, key: str) -> Path:
    return workspace / "bucket" / key


CARD = {
    "id": "card",
    "prompt": "A savings goal card",
    "size": "320x180",
    "formats": ["jpeg"],
    "variants": {"widths": [80, 160, 320, 640], "formats": ["avif", "webp", "png"]},
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_renditions_have_exact_sizes_formats_srcset_and_picture(workspace, counting):
    manifest = run_flow(make_spec([CARD]))

    entry = manifest.images["card"]
    assert entry.status == "ok" and counting.total() == 1  # one generation for 10 files
    expected = {("jpeg", 320, 180)} | {
        (fmt, w, h) for fmt in ("avif", "webp", "png") for w, h in ((80, 45), (160, 90), (320, 180))
    }  # 640 is wider than the image: skipped, never upscaled
    seen = set()
    for out in entry.outputs:
        path = file_of(workspace, out.key)
        with Image.open(path) as image:
            assert image.format == PILLOW_FORMAT[out.format]
            assert image.size == (out.width, out.height)
        assert path.stat().st_size == out.bytes
        assert read_provenance(path.read_bytes())["digital_source_type"] == "algorithmicMedia"
        seen.add((out.format, out.width, out.height))
    assert seen == expected and len(entry.outputs) == len(expected)
    assert entry.url == entry.outputs[0].url and entry.format == "jpeg"  # main output first

    by_format: dict[str, set[tuple[str, int]]] = {}
    for out in entry.outputs:
        by_format.setdefault(out.format, set()).add((out.url, out.width))
    assert set(entry.srcset) == set(by_format)
    for fmt, text in entry.srcset.items():
        candidates = parse_srcset(text)
        assert set(candidates) == by_format[fmt]
        assert [w for _, w in candidates] == sorted(w for _, w in candidates)

    parser = Tags()
    parser.feed(entry.picture or "")
    names = [t for t, _ in parser.tags]
    assert names == ["picture", "source", "source", "source", "img"]
    assert [a["type"] for t, a in parser.tags if t == "source"] == [
        "image/avif", "image/webp", "image/png",
    ]  # fmt: skip
    img = parser.tags[-1][1]
    assert img["src"] == entry.url and (img["width"], img["height"]) == ("320", "180")

    # Placeholders and colours, computed once for the image.
    assert entry.blurhash and len(entry.blurhash) == 28
    assert entry.lqip and entry.lqip.startswith("data:image/webp;base64,")
    assert len(entry.lqip) <= 1024
    assert base64.b64decode(entry.lqip.split(",", 1)[1])[:4] == b"RIFF"
    assert entry.colors and 0.9 <= sum(c.proportion for c in entry.colors) <= 1.0
    assert entry.focal_point == "center" and entry.brand_fit is None
    assert "facts_s" in entry.timings


def test_adding_a_rendition_makes_no_backend_call_and_uploads_only_it(workspace, counting, puts):
    first = {**CARD, "alt_text": "auto"}
    run_flow(make_spec([first]))
    calls, describes, written = counting.total(), sum(counting.describe_calls.values()), len(puts)
    assert describes == 1
    before = {o.key for o in run_flow(make_spec([first])).images["card"].outputs}
    assert published(puts[written:]) == []  # same spec: nothing uploaded
    written = len(puts)

    more = {**first, "variants": {**CARD["variants"], "widths": [80, 120, 160, 320]}}
    manifest = run_flow(make_spec([more]))

    assert counting.total() == calls  # no generation...
    assert sum(counting.describe_calls.values()) == describes  # ...and no new alt text
    entry = manifest.images["card"]
    new = {o.key for o in entry.outputs} - before
    assert len(new) == 3 and all("-120w-" in k for k in new)  # 120w in avif, webp, png
    assert sorted(published(puts[written:])) == sorted(new)  # only the new files
    assert manifest.counts["plan_changed"] == 1
    assert any(w == 120 for _, w in parse_srcset(entry.srcset["webp"]))


def test_exiftool_reads_provenance_and_alt_text_from_every_format(workspace, counting):
    images = [
        {**CARD, "id": "human", "formats": ["png"], "alt_text": HUMAN_ALT,
         "variants": {"widths": [160], "formats": ["jpeg", "webp", "avif"]}},
        {**CARD, "id": "auto", "formats": ["avif"], "alt_text": "auto",
         "variants": {"widths": [160], "formats": ["png", "jpeg", "webp"]}},
    ]  # fmt: skip
    manifest = run_flow(make_spec(images))

    paths = [file_of(workspace, o.key) for e in manifest.images.values() for o in e.outputs]
    assert {p.suffix for p in paths} == {".png", ".jpg", ".webp", ".avif"}
    read = exiftool(paths)
    for entry in manifest.images.values():
        assert {o.format for o in entry.outputs} == {"png", "jpeg", "webp", "avif"}
        for out in entry.outputs:
            tags = read[Path(out.key).name]
            assert tags["DigitalSourceType"] == (
                "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
            ), (out.format, tags)
            assert tags["CreatorTool"].startswith("mediagen")
            assert tags["AltTextAccessibility"] == entry.alt_text, (out.format, tags)


def test_human_alt_text_is_kept_and_auto_alt_text_is_deterministic(workspace, counting):
    images = [
        {"id": "human", "prompt": "A goal picture", "size": "thumbnail", "alt_text": HUMAN_ALT},
        {"id": "auto", "prompt": "A hopeful picture of saving for a house. Warm light.",
         "size": "thumbnail", "alt_text": "auto"},
        {"id": "none", "prompt": "No alt text asked for", "size": "thumbnail"},
    ]  # fmt: skip
    manifest = run_flow(make_spec(images))
    human, auto, none = (manifest.images[i] for i in ("human", "auto", "none"))

    assert human.alt_text == HUMAN_ALT and human.alt_text_source == "human"
    assert len(HUMAN_ALT) > 125  # kept whole: a person's text is never clipped or replaced
    assert read_alt_text(file_of(workspace, human.key).read_bytes()) == HUMAN_ALT
    assert 'alt="A teal piggy bank beside a &quot;house fund&quot; jar;' in human.picture

    expected = OfflineBackend(Settings(_env_file=None)).describe(
        b"", "image/jpeg", "", type("R", (), {"prompt": auto.prompt, "theme": "modern"})()
    )
    assert auto.alt_text == expected and auto.alt_text_source == "auto"
    assert auto.alt_text.startswith("Abstract modern placeholder art for: a hopeful picture")
    assert len(auto.alt_text) < 125
    assert read_alt_text(file_of(workspace, auto.key).read_bytes()) == auto.alt_text
    assert none.alt_text is None and read_alt_text(file_of(workspace, none.key).read_bytes()) == ""
    # Only the auto image asked the backend, once.
    assert dict(counting.describe_calls) == {auto.prompt: 1}

    # Another bucket, another run: the same text (deterministic, not just cached).
    (workspace / "bucket").rename(workspace / "bucket-1")
    again = run_flow(make_spec(images))
    assert again.images["auto"].alt_text == auto.alt_text
    assert counting.describe_calls[auto.prompt] == 2


def test_brand_fit_flags_off_brand_images_in_manifest_and_plan(workspace, counting):
    brand = {"brand_colors": ["#0A7B83 teal"], "brand_fit": {"min_score": 0.5}}
    images = [
        {"id": "teal", "prompt": "on brand [[paint #0C7D85]]", "size": "thumbnail", **brand},
        {"id": "red", "prompt": "off brand [[paint #E63946]]", "size": "thumbnail", **brand},
        {"id": "plain", "prompt": "no brand colours", "size": "thumbnail"},
    ]
    spec = make_spec(images)
    manifest = run_flow(spec)

    teal, red = manifest.images["teal"].brand_fit, manifest.images["red"].brand_fit
    assert teal is not None and red is not None and manifest.images["plain"].brand_fit is None
    assert (teal.score, teal.off_brand) == (1.0, False)
    assert (red.score, red.off_brand) == (0.0, True)
    assert teal.metric == "CIEDE2000" and teal.max_delta_e == 10.0 and teal.min_score == 0.5
    assert manifest.images["red"].colors[0].hex == "#E63946"
    on_disk = json.loads(file_of(workspace, "web/manifest.json").read_text())
    assert on_disk["images"]["red"]["brand_fit"]["off_brand"] is True

    # `mediagen plan` shows the flag before anything runs (the counting backend as a plugin).
    dist = workspace / "plugins" / PLUGIN_DIST
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: t\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        "[mediagen.backends]\ncounting = tests.support.backends:CountingBackend\n"
    )
    (workspace / "web.yaml").write_text(yaml.safe_dump(spec))
    result = mediagen(workspace, "plan", "web.yaml")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "0% OFF-BRAND" in rows["red"] and "100%" in rows["teal"]
    assert "OFF-BRAND" not in rows["teal"] and "%" not in rows["plain"]
    assert "off-brand (1): red" in result.stdout
