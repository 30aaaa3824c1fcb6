"""The gallery: an ``index.html`` contact sheet written beside the manifest.

One page a person can open from the bucket (or a CDN, or a local folder) to see
what a spec produced: a thumbnail, id, prompt, size, model and cost per image,
and every image that failed with its reason.

It is self-contained: inline CSS, no script, no font, no CDN. The only things
it loads are the spec's own images, by paths relative to the page, so it works
wherever the prefix is served from (``file://``, an S3 website, a CDN) without
knowing that place's address.

Everything that comes from a spec (name, ids, prompts, errors, metadata, URLs)
is user input, so all of it goes through :func:`html.escape`, and a link is only
made to an ``http``/``https``/``file`` URL.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

from mediagen.manifest import gallery_candidates as candidate_strip
from mediagen.manifest.model import ImageEntry, Manifest, OutputEntry
from mediagen.plan.keys import GALLERY_NAME as GALLERY_NAME
from mediagen.plan.keys import folder, gallery_key
from mediagen.storage.bucket import Bucket, cache_control_for

SAFE_SCHEMES = ("http", "https", "file")

_CSS = """
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: #f8fafc; }
header { padding: 20px 28px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 6px; font-size: 22px; }
.stats { display: flex; flex-wrap: wrap; gap: 6px 18px; color: var(--muted); }
.stats b { color: var(--ink); }
main { display: grid; gap: 16px; padding: 20px 28px;
       grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
.card.failed, .card.blocked { border-color: #fca5a5; background: #fff7f7; }
.thumb { display: flex; align-items: center; justify-content: center; height: 200px;
         background: #e2e8f0; }
.thumb > a { display: flex; align-items: center; justify-content: center;
             width: 100%; height: 100%; }
/* Fit the 200 px high box without stretching: the width is the smaller of the box's
   and 200 px times the image's ratio (--r, width / height), and the height follows from
   the ratio the width/height attributes give, so the box is right before the image loads. */
.thumb img { width: min(100%, calc(200px * var(--r, 1))); height: auto; max-height: 200px;
             display: block; object-fit: contain; }
.thumb .missing { color: #b91c1c; font-weight: 600; text-transform: uppercase; }
.body { padding: 10px 12px; }
.id { font: 600 13px ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
.prompt { margin: 6px 0; color: #334155; display: -webkit-box; -webkit-line-clamp: 4;
          -webkit-box-orient: vertical; overflow: hidden; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; margin: 6px 0 0;
     color: var(--muted); font-size: 12px; }
dd { margin: 0; color: var(--ink); word-break: break-word; }
details { color: var(--muted); font-size: 12px; }
.reason { margin-top: 6px; color: #b91c1c; font-size: 12px; word-break: break-word; }
.status { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px;
          background: #dcfce7; color: #166534; margin-left: 4px; }
.failed .status, .blocked .status { background: #fee2e2; color: #991b1b; }
.thumb img.placeholder { background-size: cover; background-position: center; }
.card.off-brand { border-color: #f59e0b; }
.flag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 11px;
        background: #fef3c7; color: #92400e; margin-left: 4px; }
"""


def write_gallery(bucket: Bucket, prefix: str, manifest: Manifest) -> str:
    """Render the gallery of ``manifest`` and put it beside the manifest; returns its key."""
    key = gallery_key(prefix, manifest.spec_name if manifest.shared_prefix else None)
    link, note = candidate_strip.link_for(bucket, prefix)
    bucket.put(
        key,
        render_gallery(manifest, prefix, candidates=(link, note)).encode(),
        content_type="text/html; charset=utf-8",
        # Rewritten every run, so a minute of caching; ``private`` on a private bucket
        # so no CDN or proxy keeps a copy of a page that lists private images.
        cache_control=cache_control_for(immutable=False, public=bucket.config.public),
    )
    return key


def render_gallery(
    manifest: Manifest,
    prefix: str = "",
    *,
    candidates: tuple[candidate_strip.Link | None, str] = (None, ""),
) -> str:
    """The page as text. ``prefix`` is the folder of the page: thumbnails are relative to it.
    ``candidates``: how candidates' originals are linked, and a note (see
    :mod:`mediagen.manifest.gallery_candidates`)."""
    images = list(manifest.images.values())
    # Failures first: they are what a reader has to act on.
    images.sort(key=lambda e: (e.status == "ok", e.id))
    counts = manifest.counts
    ok = sum(e.status == "ok" for e in images)
    listed_cost = sum(e.cost_usd for e in images)
    stats = [
        ("images", str(len(images))),
        ("published", str(ok)),
        ("failed or blocked", str(len(images) - ok)),
        ("cost of this run", f"${manifest.cost_usd:.4f}"),
        ("cost of the images listed", f"${listed_cost:.4f}"),
        ("updated", manifest.created_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if "plan_new" in counts:
        stats.append(
            (
                "this run",
                f"{counts.get('plan_new', 0)} new, {counts.get('plan_changed', 0)} changed, "
                f"{counts.get('plan_retry', 0)} retried, "
                f"{counts.get('plan_unchanged', 0)} unchanged",
            )
        )
    name = _e(manifest.spec_name)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No script at all, and nothing but our own images may load: a prompt
        # that smuggles markup in is shown as text, and could not run even if not.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self' data: file: http: https:; style-src 'unsafe-inline'\">",
        f"<title>{name} · mediagen gallery</title>",
        f"<style>{_CSS}{candidate_strip.CSS}</style>",
        "</head><body>",
        f"<header><h1>{name}</h1>",
        '<div class="stats">'
        + "".join(f"<span>{_e(label)}: <b>{_e(value)}</b></span>" for label, value in stats)
        + "</div></header>",
        "<main>",
        *(
            _card(entry, prefix, candidate_strip.candidates_html(entry, manifest, *candidates))
            for entry in images
        ),
        "</main></body></html>",
        "",
    ]
    return "\n".join(parts)


def _card(entry: ImageEntry, prefix: str, strip: str = "") -> str:
    status = entry.status if entry.status in ("ok", "failed", "blocked") else "failed"
    output = thumbnail_output(entry)
    if status == "ok" and output is not None:
        src = _relative_src(output, prefix)
        alt = _e(f"{entry.id}: {entry.subject}")
        # The LQIP paints in the image's own box while it loads (so the placeholder has
        # the image's shape); only our own data: URIs are used.
        lqip = entry.lqip if entry.lqip and entry.lqip.startswith("data:image/") else None
        style = f"--r:{output.width / max(output.height, 1):.4f}"
        if lqip:
            style += f";background-image:url(&quot;{_e(lqip)}&quot;)"
        placeholder = ' class="placeholder"' if lqip else ""
        img = (
            f'<img src="{_e(src)}" alt="{alt}" width="{output.width}" '
            f'height="{output.height}"{placeholder} style="{style}" loading="lazy" '
            'decoding="async">'
        )
        href = _safe_url(entry.url)
        thumb = f'<a href="{_e(href)}">{img}</a>' if href else img
    else:
        thumb = f'<span class="missing">{_e(status)}</span>'
    formats = ", ".join(f"{o.format} {human_bytes(o.bytes)}" for o in entry.outputs)
    rows = [
        ("size", f"{entry.width}×{entry.height} ({entry.size})"),
        ("formats", formats or entry.format),
        ("model", f"{entry.model} · {entry.backend}" if entry.model else entry.backend),
        ("cost", f"${entry.cost_usd:.4f}"),
        ("theme", f"{entry.theme} · {entry.quality}"),
    ]
    fit = entry.brand_fit
    if fit is not None:
        rows.append(("brand fit", f"{fit.score:.0%} ({fit.metric} ≤ {fit.max_delta_e:g})"))
    if entry.tags:
        rows.append(("tags", ", ".join(entry.tags)))
    if entry.metadata:
        rows.append(("metadata", ", ".join(f"{k}={v}" for k, v in entry.metadata.items())))
    details = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    reason = (
        f'<div class="reason">{_e(entry.error or "no reason recorded")}</div>'
        if status != "ok"
        else ""
    )
    off_brand = bool(fit and fit.off_brand)
    flag = '<span class="flag">off-brand</span>' if off_brand else ""
    card_class = f"card {status}" + (" off-brand" if off_brand else "")
    return (
        f'<article class="{card_class}" id="image-{_e(entry.id)}">'
        f'<div class="thumb">{thumb}</div>'
        f'<div class="body"><div class="id">{_e(entry.id)}'
        f'<span class="status">{_e(status)}</span>{flag}</div>'
        f'<p class="prompt">{_e(entry.subject)}</p>'
        f"<details><summary>final prompt</summary>{_e(entry.prompt)}</details>"
        f"<dl>{details}</dl>{strip}{reason}</div></article>"
    )


def thumbnail_output(entry: ImageEntry) -> OutputEntry | None:
    """The smallest output: every format mediagen writes displays in current browsers."""
    return min(entry.outputs, key=lambda o: o.bytes, default=None)


def _relative_src(output: OutputEntry, prefix: str) -> str:
    head = folder(prefix)
    if output.key.startswith(head):
        return quote(output.key[len(head) :])
    return _safe_url(output.url) or ""


def _safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain web or file URL; never ``javascript:`` and the like."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in SAFE_SCHEMES else None


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
