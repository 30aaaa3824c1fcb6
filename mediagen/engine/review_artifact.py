"""What a reviewer looks at: each image's candidates, as a markdown page.

The flow publishes it as a Prefect markdown artifact beside the paused run's
input form (the terminal prints the same facts as a table). Thumbnails are
markdown images: ``create_image_artifact`` only renders a public URL, and
originals are never public, so each candidate links its original through a
presigned URL (valid :data:`~mediagen.engine.review.URL_SECONDS`); a local
folder's ``file://`` links are listed but a browser page served over HTTP will
not show them. Every spec string is escaped: a prompt is not markup.
"""

from __future__ import annotations

import re

from mediagen.engine.review import ReviewItem

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape(text: str) -> str:
    """``text`` shown literally in markdown (one line)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _url(url: str) -> str:
    # Inside (...) a markdown link ends at a space or ')': percent-encode both.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def review_markdown(spec_name: str, items: list[ReviewItem], round_: int) -> str:
    """The review page for ``items`` (round ``round_``: 1, then 2 after a rejection...)."""
    lines = [
        f"# Review: {escape(spec_name)}" + (f" (round {round_})" if round_ > 1 else ""),
        "",
        f"{len(items)} image(s) wait for a decision. In the run's **Resume** form, for "
        "each image: **approve** a candidate (its number), **reject** it with a note "
        "(the note is added to the prompt and new candidates are made in this run), or "
        "**skip** it (nothing is published). Brand fit: the share of pixels near a brand "
        "colour (CIEDE2000), higher is closer.",
    ]
    for item in items:
        best = item.best()
        lines += ["", f"## {escape(item.id)}", "", f"Prompt: {escape(item.job.prompt)}"]
        if item.notes:
            lines += ["", "Notes so far: " + "; ".join(f"“{escape(n)}”" for n in item.notes)]
        lines += ["", "| candidate | preview | brand fit | seed |", "|---|---|---|---|"]
        for c in item.candidates:
            score = "n/a" if c.score is None else f"{c.score:.2f}"
            mark = " (best)" if c.index == best and len(item.candidates) > 1 else ""
            alt = f"{escape(item.id)} candidate {c.index}"
            seed = "" if c.job.request.seed is None else str(c.job.request.seed)
            lines.append(
                f"| **{c.index}**{mark} | [![{alt}]({_url(c.url)})]({_url(c.url)}) "
                f"| {score} | {seed} |"
            )
    return "\n".join(lines) + "\n"


__all__ = ["escape", "review_markdown"]
