"""The gallery's candidate strip: each image's candidates, their scores, the chosen one.

For a review outside Prefect: under an image that had several candidates (or a
``pick: review``), the gallery shows every candidate with its score and signals
and marks the one chosen (or published). Thumbnails are the candidates' originals,
which are never public, so they are shown only in a private bucket's gallery (a
private page, never cached by a CDN): by a path relative to the page in a local
folder, by a presigned URL on S3 or Spaces (valid ``presign_expiry`` seconds, else
:data:`DEFAULT_EXPIRY`; the page says until when). A public bucket's gallery shows
the scores only: an unchosen candidate is never published, not even by a link.

An original that prune removed (an unchosen one without ``keep_candidates``) has
no thumbnail: the page knows from the manifest alone, without asking the bucket.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from mediagen.manifest.model import CandidateEntry, ImageEntry, Manifest
from mediagen.plan.keys import folder
from mediagen.storage.bucket import Bucket

DEFAULT_EXPIRY = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
Link = Callable[[str], str | None]  # an original's key -> its URL for the page (None: none)

CSS = """
.cands { display: grid; grid-template-columns: repeat(auto-fill, minmax(64px, 1fr));
         gap: 6px; margin-top: 8px; }
.cand { border: 2px solid var(--line); border-radius: 6px; padding: 3px; font-size: 11px;
        text-align: center; color: var(--muted); }
.cand.chosen { border-color: #16a34a; color: #166534; font-weight: 600; }
.cand img { width: 100%; height: 56px; object-fit: cover; display: block; border-radius: 3px; }
.cand .none { display: flex; align-items: center; justify-content: center; height: 56px;
              background: #f1f5f9; border-radius: 3px; }
.cands-note { color: var(--muted); font-size: 11px; margin-top: 4px; }
"""


def link_for(bucket: Bucket, prefix: str, now: datetime | None = None) -> tuple[Link | None, str]:
    """How the stored gallery of ``bucket`` links candidates' originals, and a note saying so.

    ``None``: no thumbnails (a public bucket: its gallery is public too)."""
    if bucket.config.public:
        return None, "candidates' pictures are shown in a private bucket's gallery only"
    if bucket.local:
        head = folder(prefix)
        return (lambda key: quote(key[len(head) :]) if key.startswith(head) else None), ""
    seconds = bucket.config.presign_expiry or DEFAULT_EXPIRY
    until = (now or datetime.now(UTC)) + timedelta(seconds=seconds)
    note = f"candidates' links expire {until.strftime('%Y-%m-%d %H:%M UTC')}"
    return (lambda key: bucket.sign(key, seconds)), note


def candidates_html(entry: ImageEntry, manifest: Manifest, link: Link | None, note: str) -> str:
    """The strip of ``entry``'s candidates ('' for an image without candidates)."""
    if not entry.candidates:
        return ""
    orphaned = set(manifest.orphaned_keys)
    keep = bool(entry.pick and entry.pick.keep_candidates)
    chosen = entry.pick.chosen if entry.pick else None
    cells = []
    for candidate in entry.candidates:
        present = _present(candidate, entry, orphaned, keep)
        cells.append(_cell(candidate, chosen, link if present else None))
    mode = entry.pick.mode if entry.pick else "auto"
    decision = entry.pick.decision if entry.pick else "auto"
    how = f"pick: {mode}" + (" (the best score)" if decision == "auto" else f" · {decision}")
    if entry.pick and entry.pick.by and decision != "auto":
        how += f" by {entry.pick.by}"
    footer = f'<div class="cands-note">{_e(how)}{" · " + _e(note) if note else ""}</div>'
    return f'<div class="cands">{"".join(cells)}</div>{footer}'


def _present(candidate: CandidateEntry, entry: ImageEntry, orphaned: set[str], keep: bool) -> bool:
    """Is the candidate's original still in the bucket (as far as the manifest knows)?"""
    key = candidate.original_key
    if not key:
        return False
    if key == entry.original_key or keep or entry.pick is None or entry.pick.chosen is None:
        return True  # the published one, a kept one, or nothing released yet
    return key in orphaned  # released: present until prune removes it (and forgets the key)


def _cell(candidate: CandidateEntry, chosen: int | None, link: Link | None) -> str:
    is_chosen = candidate.index == chosen
    url = link(candidate.original_key) if link and candidate.original_key else None
    label = f"#{candidate.index}" + (" ✓" if is_chosen else "")
    picture = (
        f'<img src="{_e(url)}" alt="candidate {candidate.index}" loading="lazy">'
        if url
        else '<span class="none">—</span>'
    )
    score = "no image" if candidate.score is None else f"{candidate.score:.2f}"
    signals = ", ".join(f"{k} {v:.2f}" for k, v in sorted(candidate.signals.items()))
    title = f"candidate {candidate.index}, seed {candidate.seed}: {signals or score}"
    css = "cand chosen" if is_chosen else "cand"
    return f'<div class="{css}" title="{_e(title)}">{picture}{_e(label)} · {_e(score)}</div>'


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


__all__ = ["CSS", "DEFAULT_EXPIRY", "Link", "candidates_html", "link_for"]
