"""The gallery page: content, escaping, self-containment, and what Chromium shows."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediagen import backends
from mediagen.manifest.gallery import render_gallery
from mediagen.manifest.model import Manifest
from tests.support.browser import dump_dom, screenshot, serve_folder
from tests.support.local_run import run_locally

COLOURS = {"red": (230, 20, 20), "green": (20, 170, 60), "blue": (30, 60, 220)}
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)"> & "quotes"'


@pytest.fixture
def solid(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setitem(backends.BUILTIN_BACKENDS, "solid", "tests.support.backends:SolidBackend")
    return workspace


def spec(**extra: object) -> dict[str, object]:
    images = [
        {
            "id": f"tile-{name}",
            "prompt": f"a {name} tile {HOSTILE}",
            "brand_colors": ["#{:02X}{:02X}{:02X}".format(*rgb)],
            "metadata": {"note": HOSTILE},
        }
        for name, rgb in COLOURS.items()
    ]
    images.append({"id": "broken", "prompt": "this one fails [[fail]]"})
    return {
        "name": "gallery-demo",
        "backend": "solid",
        "description": HOSTILE,
        "defaults": {"size": "thumbnail", "formats": ["png"], "tags": ["<b>tag</b>"]},
        "images": images,
        **extra,
    }


def gallery_file(workspace: Path) -> Path:
    return workspace / "bucket" / "gallery-demo" / "index.html"


def test_gallery_is_written_beside_the_manifest_and_lists_everything(solid: Path) -> None:
    manifest = run_locally(spec())

    page = gallery_file(solid).read_text()
    assert (gallery_file(solid).parent / "manifest.json").is_file()
    for entry in manifest.images.values():
        assert f'id="image-{entry.id}"' in page
    ok = [e for e in manifest.images.values() if e.status == "ok"]
    assert len(ok) == 3
    for entry in ok:
        output = entry.outputs[0]
        relative = output.key.removeprefix("gallery-demo/")
        assert f'src="{relative}"' in page  # relative: works wherever the folder is served
        assert f"{entry.width}×{entry.height}" in page
        assert "solid-1" in page and "$0.0100" in page
    # The failed image is there with its reason.
    assert manifest.images["broken"].status == "failed"
    assert "scripted permanent failure" in page
    assert "cost of this run: <b>$0.0300</b>" in page


def test_gallery_escapes_every_spec_string_and_loads_nothing_external(solid: Path) -> None:
    run_locally(spec())
    page = gallery_file(solid).read_text()

    assert "<script" not in page.lower()
    assert 'onerror="' not in page  # only as escaped text: onerror=&quot;
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;tag&lt;/b&gt;" in page
    # Self-contained: no stylesheet, script, font or frame from anywhere.
    assert not re.search(r"<(link|script|iframe|object|embed)\b", page, re.I)
    assert "@import" not in page
    # CSS url() only for the inline LQIP placeholders, never a fetched resource.
    assert all(u.startswith("&quot;data:image/") for u in re.findall(r"url\(([^)]*)\)", page))
    srcs = re.findall(r'\bsrc="([^"]*)"', page)
    assert srcs and all("://" not in s and not s.startswith("/") for s in srcs)


def test_gallery_never_links_a_javascript_url() -> None:
    manifest = Manifest.model_validate(
        {
            "spec_name": "x",
            "spec_hash": "h",
            "images": {
                "a": {
                    "id": "a", "status": "ok", "url": "javascript:alert(1)", "width": 1,
                    "height": 1, "format": "png", "prompt": "p", "subject": "p",
                    "backend": "b", "model": "m", "theme": "modern", "size": "custom",
                    "quality": "fast", "gen_key": "k",
                    "outputs": [{"format": "png", "key": "x/a.png", "url": "javascript:alert(1)",
                                 "width": 1, "height": 1, "bytes": 1, "sha256": "s",
                                 "content_type": "image/png", "out_key": "o"}],
                }
            },
        }
    )  # fmt: skip
    page = render_gallery(manifest, "x")
    assert "javascript:" not in page
    assert 'src="a.png"' in page


def _entry(image_id: str, **extra: object) -> dict:
    return {
        "id": image_id, "status": "ok", "url": f"https://cdn.example/x/{image_id}.png",
        "width": 1, "height": 1, "format": "png", "prompt": "p", "subject": "p",
        "backend": "b", "model": "m", "theme": "modern", "size": "custom", "quality": "fast",
        "gen_key": "k",
        "outputs": [{"format": "png", "key": f"x/{image_id}.png", "url": "u", "width": 1,
                     "height": 1, "bytes": 1, "sha256": "s", "content_type": "image/png",
                     "out_key": "o"}],
        **extra,
    }  # fmt: skip


def test_gallery_shows_placeholders_and_brand_flags() -> None:
    fit = {"score": 0.12, "metric": "CIEDE2000", "max_delta_e": 10, "min_score": 0.5}
    lqip = "data:image/webp;base64,UklGRg=="
    manifest = Manifest.model_validate(
        {
            "spec_name": "x",
            "spec_hash": "h",
            "images": {
                "drifted": _entry("drifted", lqip=lqip, brand_fit={**fit, "off_brand": True}),
                "on": _entry("on", brand_fit={**fit, "score": 0.9, "off_brand": False}),
                "sneaky": _entry("sneaky", lqip="javascript:alert(1)"),
            },
        }
    )
    page = render_gallery(manifest, "x")
    drifted = page.split('id="image-drifted"')[1].split("</article>")[0]
    assert 'class="card ok off-brand"' in page and '<span class="flag">off-brand</span>' in drifted
    assert f';background-image:url(&quot;{lqip}&quot;)"' in drifted  # in the image's box
    assert 'class="placeholder"' in drifted
    assert "12% (CIEDE2000" in drifted
    on = page.split('id="image-on"')[1].split("</article>")[0]
    assert "off-brand" not in on and "90% (CIEDE2000" in on
    assert "javascript:" not in page  # only data:image/ URIs become placeholders


def test_chromium_shows_the_images_of_the_gallery(solid: Path, tmp_path: Path) -> None:
    run_locally(spec())
    url = gallery_file(solid).as_uri()

    shot = screenshot(url, tmp_path / "gallery.png")

    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        pixels = list(rgb.get_flattened_data())
    for name, colour in COLOURS.items():
        near = sum(
            1 for p in pixels if all(abs(a - b) <= 6 for a, b in zip(p, colour, strict=True))
        )
        # Each 320×320 image is shown at 200×200: tens of thousands of its pixels.
        assert near > 20_000, f"the {name} image is not visible ({near} pixels)"

    dom = dump_dom(url)
    # Three images rendered as elements; the hostile strings stayed text.
    assert len(re.findall(r"<img\b", dom)) == 3
    assert "<script" not in dom.lower()
    assert "scripted permanent failure" in dom


def colour_box(rgb: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Width, height of the box around every pixel of ``colour``, and how many there are."""
    near = (np.abs(np.asarray(rgb, dtype=int) - colour) <= 6).all(axis=2)
    ys, xs = np.nonzero(near)
    assert len(xs), f"no pixel of {colour}"
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1), len(xs)


PRESETS = {  # id: (size, colour, width / height of the image)
    "square": ("thumbnail", (230, 20, 20), 1.0),
    "banner": ("banner", (20, 170, 60), 3.0),
    "story": ("story", (30, 60, 220), 9 / 16),
}


def test_chromium_keeps_every_thumbnail_s_aspect_ratio(solid: Path, tmp_path: Path) -> None:
    images = [
        {
            "id": image_id,
            "prompt": image_id,
            "size": size,
            "brand_colors": ["#{:02X}{:02X}{:02X}".format(*c)],
        }
        for image_id, (size, c, _) in PRESETS.items()
    ]
    run_locally({"name": "gallery-demo", "backend": "solid", "images": images,
                 "defaults": {"formats": ["png"]}})  # fmt: skip

    shot = screenshot(gallery_file(solid).as_uri(), tmp_path / "presets.png")

    with Image.open(shot) as im:
        rgb = im.convert("RGB")
    for image_id, (_, colour, ratio) in PRESETS.items():
        width, height, count = colour_box(rgb, colour)
        # Scaled down to fit the 200 px high thumbnail box (one side fills it), and
        # never stretched to fill the other side too.
        assert height <= 200 and max(width, height) >= 190, (image_id, width, height)
        assert abs(width / height - ratio) / ratio < 0.04, (image_id, width, height)
        assert count >= 0.95 * width * height, image_id  # one solid rectangle: the image


def test_gallery_page_is_cached_privately_on_a_private_bucket(solid: Path, s3) -> None:
    from tests.support.s3 import head, s3_storage

    for public in (False, True):
        storage = s3_storage(s3.endpoint_url, prefix=f"public-{public}", public=public)
        run_locally({**spec(), "storage": storage})
        scope = "public" if public else "private"
        page = head(s3.client(), f"public-{public}/index.html")
        assert page["CacheControl"] == f"{scope}, max-age=60, must-revalidate"
        assert page["ContentType"] == "text/html; charset=utf-8"


# A page without the gallery's CSP, around it: its script reads the gallery's layout
# (same origin) while the images are held back by the server, and writes it down.
HARNESS = """<!doctype html><html><body><iframe id="g" src="%s"
 style="width:1280px;height:900px;border:0"></iframe><pre id="out"></pre><script>
function measure() {
  const doc = document.getElementById("g").contentDocument;
  const imgs = doc ? [...doc.querySelectorAll("img")] : [];
  if (!imgs.length) { setTimeout(measure, 50); return; }
  document.getElementById("out").textContent = JSON.stringify(imgs.map(i => {
    const r = i.getBoundingClientRect();
    return {id: i.alt.split(":")[0], loaded: i.complete, width: r.width, height: r.height,
            placeholder: getComputedStyle(i).backgroundImage.startsWith('url("data:image/')};
  }));
  fetch("/release");  // measured: let the held images load, and Chromium finish
}
setTimeout(measure, 300);
</script></body></html>"""


def test_boxes_keep_the_ratio_and_show_the_placeholder_before_images_load(
    solid: Path,
) -> None:
    images = [
        {
            "id": image_id,
            "prompt": image_id,
            "size": size,
            "brand_colors": ["#{:02X}{:02X}{:02X}".format(*c)],
        }
        for image_id, (size, c, _) in PRESETS.items()
    ]
    run_locally({"name": "gallery-demo", "backend": "solid", "images": images,
                 "defaults": {"formats": ["png"]}})  # fmt: skip
    (solid / "harness.html").write_text(HARNESS % "bucket/gallery-demo/index.html")

    with serve_folder(solid, hold=(".png",)) as base:
        dom = dump_dom(f"{base}/harness.html")

    found = re.search(r'<pre id="out">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    boxes = {box["id"]: box for box in json.loads(html.unescape(found.group(1)))}
    assert set(boxes) == set(PRESETS)
    for image_id, (_, _, ratio) in PRESETS.items():
        box = boxes[image_id]
        assert not box["loaded"] and box["placeholder"], box  # measured before the load
        assert box["width"] > 0 and box["height"] > 0, box  # a box to paint it in
        assert abs(box["width"] / box["height"] - ratio) / ratio < 0.02, box
        assert box["height"] <= 200 and max(box["width"], box["height"]) >= 190, box
