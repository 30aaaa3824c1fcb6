"""What a reviewer looks at: each image's candidates, as a markdown page.

The flow publishes it as a Prefect markdown artifact beside the paused run's
input form (the terminal prints the same facts as a table). ``create_image_artifact``
only renders a public URL, and originals are never public, so each candidate is
shown from a presigned URL of its original (valid
``MEDIAGEN_REVIEW_TIMEOUT``, as long as the run waits); a local folder's ``file://`` links
are listed, but a page served over HTTP will not show them.

Thumbnails are ``<img width=…>`` tags, not markdown images: the Prefect UI's
markdown renderer (3.9, checked in Chromium) draws a markdown image at its full
size (a 1K original fills the page) and shows an image inside a link as its
source text; its HTML sanitiser keeps ``<img src width alt>``. Every spec
string is escaped: a prompt is neither markdown nor HTML.
"""

from __future__ import annotations

import html
import re

from mediagen.engine.review import ReviewItem

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape(text: str) -> str:
    """``text`` shown literally in markdown (one line)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


THUMB_WIDTH = 192  # pixels, in the page


def _url(url: str) -> str:
    # Inside (...) a markdown link ends at a space or ')': percent-encode both.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def thumbnail(url: str, alt: str) -> str:
    """An ``<img>`` the UI keeps to :data:`THUMB_WIDTH` (attributes HTML-escaped)."""
    src, text = html.escape(_url(url), quote=True), html.escape(alt, quote=True)
    tag = f'<img src="{src}" width="{THUMB_WIDTH}" alt="{text}">'
    return tag.replace("|", "&#124;")  # a '|' would end the table cell


def review_markdown(spec_name: str, items: list[ReviewItem], round_: int) -> str:
    """The review page for ``items`` (round ``round_``: 1, then 2 after a rejection...)."""
    lines = [
        f"# Review: {escape(spec_name)}" + (f" (round {round_})" if round_ > 1 else ""),
        "",
        f"{len(items)} image(s) wait for a decision. In the run's **Resume** form, for "
        "each image: **approve** a candidate (its number), **reject** it with a note "
        "(the note is added to the prompt and new candidates are made in this run), or "
        "**skip** it (nothing is published). Score: what `pick: auto` ranks by (0-1, higher "
        "is better; brand fit by CIEDE2000, sharpness, aspect fit).",
    ]
    for item in items:
        best = item.best()
        lines += ["", f"## {escape(item.id)}", "", f"Prompt: {escape(item.current.prompt)}"]
        if item.notes:
            lines += ["", "Notes so far: " + "; ".join(f"“{escape(n)}”" for n in item.notes)]
        # Narrow columns only: the UI hides what is wider than its page behind a scrollbar
        # (seeds and keys are in the manifest).
        lines += ["", "| candidate | preview | score | signals |", "|---|---|---|---|"]
        for c in item.shown:
            score = "n/a" if c.score is None else f"{c.score:.2f}"
            mark = " (best)" if c.index == best and len(item.shown) > 1 else ""
            signals = ", ".join(f"{escape(k)} {v:.2f}" for k, v in sorted(c.signals.items()))
            if c.url is None:
                preview = f"not made: {escape(c.error or 'unknown')}"
            else:
                alt = f"{item.id} candidate {c.index}"
                preview = f"{thumbnail(c.url, alt)} [full size]({_url(c.url)})"
            lines.append(f"| **{c.index}**{mark} | {preview} | {score} | {signals} |")
    return "\n".join(lines) + "\n"


__all__ = ["THUMB_WIDTH", "escape", "review_markdown", "thumbnail"]
