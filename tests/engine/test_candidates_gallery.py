"""The gallery shows each image's candidates, their scores and the chosen one.

Originals are private: thumbnails appear only in a private bucket's gallery (a
relative path in a local folder, a presigned URL on S3, fetched back here), and a
public bucket's gallery shows scores only.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mediagen.manifest.prune import prune
from tests.support.browser import screenshot
from tests.support.candidates import (
    SeedPaintBackend,
    bucket_of,
    colour_of,
    jobs_of,
    paint,
    run,
)
from tests.support.s3 import body, s3_storage

TEAL, RED, BLUE = "#0A7B83", "#D0312D", "#2A52BE"


def spec_of(**storage: Any) -> dict[str, Any]:
    image = {"id": "coin", "prompt": "a coin", "size": "thumbnail", "seed": 7, "candidates": 3,
             "brand_colors": [TEAL]}  # fmt: skip
    spec: dict[str, Any] = {"name": "cands", "backend": "seedpaint", "images": [image]}
    if storage:
        spec["storage"] = storage
    return spec


def cells(page: str) -> list[str]:
    return re.findall(r'<div class="cand(?: chosen)?" .*?</div>', page)


def test_a_local_gallery_shows_every_candidate_its_score_and_the_chosen_one(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, RED, TEAL, BLUE)
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    page = (workspace / "bucket" / "cands" / "index.html").read_text()
    found = cells(page)
    assert len(found) == 3
    assert 'class="cand chosen"' in found[1] and "#1 ✓" in found[1]
    for candidate, cell in zip(entry.candidates, found, strict=True):
        assert f"{candidate.score:.2f}" in cell
        src = re.search(r'src="([^"]+)"', cell)
        assert src is not None  # a relative path into _originals/, as the page is private
        assert src.group(1) == candidate.original_key.removeprefix("cands/")  # type: ignore[union-attr]
        assert (workspace / "bucket" / "cands" / src.group(1)).is_file()
    assert "pick: auto (the best score)" in page
    # After prune, the losers' pictures are gone and the page says so (no dead links).
    prune(bucket_of(spec), "cands", dry_run=False)
    manifest, _ = run(spec)  # unchanged: the gallery is written again
    page = (workspace / "bucket" / "cands" / "index.html").read_text()
    found = cells(page)
    assert ["src=" in c for c in found] == [False, True, False]


def test_a_public_gallery_shows_scores_but_never_an_unpublished_candidate(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(provider="local", public=True)
    run(spec)
    page = (workspace / "bucket" / "cands" / "index.html").read_text()
    found = cells(page)
    assert len(found) == 3 and not any("<img" in c for c in found)
    assert "_originals" not in page
    assert "private bucket&#x27;s gallery only" in page


def test_a_private_s3_gallery_links_candidates_by_presigned_urls_that_work(
    s3: Any, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(**s3_storage(s3.endpoint_url))
    [job] = jobs_of(spec)
    paint(job, RED, TEAL, BLUE)
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "ok", entry.error
    page = body(s3.client(), "cands/index.html").decode()
    urls = [re.search(r'src="([^"]+)"', c).group(1) for c in cells(page)]  # type: ignore[union-attr]
    assert len(urls) == 3 and all("X-Amz-Signature" in u for u in urls)
    assert "candidates&#x27; links expire" in page
    colours = []
    for url in urls:
        with urllib.request.urlopen(url.replace("&amp;", "&"), timeout=10) as answer:
            colours.append(colour_of(answer.read()))
    assert colours == [(0xD0, 0x31, 0x2D), (0x0A, 0x7B, 0x83), (0x2A, 0x52, 0xBE)]


def test_chromium_shows_the_candidates_thumbnails(
    workspace: Path, seedpaint: type[SeedPaintBackend], tmp_path: Path
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, RED, TEAL, BLUE)
    run(spec)
    page = workspace / "bucket" / "cands" / "index.html"
    shot = screenshot(page.as_uri(), tmp_path / "candidates.png")
    with Image.open(shot) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=int)

    def pixels_of(colour: tuple[int, int, int]) -> int:
        return int((np.abs(rgb - colour) <= 6).all(axis=2).sum())

    # Red and blue exist only as the losing candidates' thumbnails (about 56 px high each);
    # teal is the published image (200 px) plus its own thumbnail.
    red, blue, teal = (pixels_of(c) for c in ((0xD0, 0x31, 0x2D), (0x2A, 0x52, 0xBE),
                                               (0x0A, 0x7B, 0x83)))  # fmt: skip
    assert red > 1500 and blue > 1500, (red, blue)
    assert teal > red + 20_000


def test_an_image_awaiting_review_shows_its_candidates(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    image = {**spec_of()["images"][0], "pick": "review"}
    manifest, _ = run({**spec_of(), "images": [image]})
    assert manifest.images["coin"].status == "pending"
    page = (workspace / "bucket" / "cands" / "index.html").read_text()
    found = cells(page)
    assert len(found) == 3 and all("<img" in c for c in found)
    assert not any("chosen" in c.split(">")[0] for c in found)
    assert "pick: review · pending" in page and "waiting for a review" in page
