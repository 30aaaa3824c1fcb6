"""Rendition planning, srcset strings and the <picture> snippet."""

from __future__ import annotations

from html.parser import HTMLParser

from mediagen.imaging.codec import OutputSpec
from mediagen.imaging.renditions import PublishedFile, picture_html, rendition_specs, srcsets
from tests.support.web_outputs import parse_srcset


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def test_rendition_specs_keep_the_aspect_and_never_upscale() -> None:
    specs = rendition_specs(1200, 630, [320, 640, 1200, 1600], ["avif", "webp"], 85)
    assert specs == [
        OutputSpec(1200, 630, "avif", 85),
        OutputSpec(640, 336, "avif", 85),
        OutputSpec(320, 168, "avif", 85),
        OutputSpec(1200, 630, "webp", 85),
        OutputSpec(640, 336, "webp", 85),
        OutputSpec(320, 168, "webp", 85),
    ]


FILES = [
    PublishedFile("https://cdn.example.com/a/x-1.jpg", 1200, 630, "jpeg"),
    PublishedFile("https://cdn.example.com/a/x-640w-2.jpg", 640, 336, "jpeg"),
    PublishedFile("https://cdn.example.com/a/x-640w-3.avif", 640, 336, "avif"),
    PublishedFile("https://cdn.example.com/a/x-320w-4.avif", 320, 168, "avif"),
    PublishedFile("https://cdn.example.com/a/x-640w-5.webp", 640, 336, "webp"),
]


def test_srcsets_parse_and_list_every_width_narrowest_first() -> None:
    sets = srcsets(FILES)
    assert set(sets) == {"jpeg", "avif", "webp"}
    assert parse_srcset(sets["jpeg"]) == [
        ("https://cdn.example.com/a/x-640w-2.jpg", 640),
        ("https://cdn.example.com/a/x-1.jpg", 1200),
    ]
    assert parse_srcset(sets["avif"]) == [
        ("https://cdn.example.com/a/x-320w-4.avif", 320),
        ("https://cdn.example.com/a/x-640w-3.avif", 640),
    ]


def test_srcset_urls_with_commas_and_spaces_stay_one_candidate() -> None:
    files = [
        PublishedFile("file:///tmp/my bucket/a,b-1.png", 100, 100, "png"),
        PublishedFile("file:///tmp/my bucket/a,b-2.png", 50, 50, "png"),
    ]
    assert parse_srcset(srcsets(files)["png"]) == [
        ("file:///tmp/my%20bucket/a%2Cb-2.png", 50),
        ("file:///tmp/my%20bucket/a%2Cb-1.png", 100),
    ]


def test_picture_snippet_sources_fallback_and_attributes() -> None:
    html = picture_html(FILES, alt='A "calm" beach & sun', sizes="(min-width: 800px) 50vw, 100vw")
    tags = tags_of(html)
    assert [t for t, _ in tags] == ["picture", "source", "source", "img"]
    (_, avif), (_, webp), (_, img) = tags[1:]
    assert avif["type"] == "image/avif" and webp["type"] == "image/webp"  # smallest first
    assert parse_srcset(avif["srcset"] or "") == parse_srcset(srcsets(FILES)["avif"])
    assert img["src"] == "https://cdn.example.com/a/x-1.jpg"  # widest of the fallback format
    assert (img["width"], img["height"]) == ("1200", "630")
    assert img["alt"] == 'A "calm" beach & sun'  # escaped in HTML, intact once parsed
    assert img["sizes"] == "(min-width: 800px) 50vw, 100vw"
    assert img["loading"] == "lazy" and img["decoding"] == "async"
    assert picture_html([]) == ""


def test_picture_without_jpeg_falls_back_to_png_then_webp() -> None:
    only_modern = [f for f in FILES if f.format != "jpeg"]
    tags = tags_of(picture_html(only_modern))
    assert [t for t, _ in tags] == ["picture", "source", "img"]
    assert tags[1][1]["type"] == "image/avif"
    assert tags[2][1]["src"] == "https://cdn.example.com/a/x-640w-5.webp"
