"""One short, safe sentence for any error that becomes a recorded reason.

A reason lands in the manifest, the gallery page, Prefect state messages and
the CLI's output, so it must be readable and small, and it must never carry
what an exception's ``str`` may hold:

- secrets (every value registered with :mod:`mediagen.redaction`);
- memory addresses (``<_io.BytesIO object at 0x7f…>``, Pillow's "cannot
  identify image file" message): they differ on every run, so two runs of the
  same failure would look different, and they tell a reader nothing;
- whole HTML error pages (a gateway's 502, a proxy's login page): summarised
  as the HTTP status when known, the page's ``<title>`` and the first
  :data:`HTML_TEXT_CHARS` characters of its visible text.

The result is one line of at most :data:`MAX_REASON_CHARS` characters.
"""

from __future__ import annotations

import html
import re

from mediagen.redaction import redact

MAX_REASON_CHARS = 500
HTML_TEXT_CHARS = 200

_ADDRESS = re.compile(r"<([\w.]+(?: [\w.]+)*) object at 0x[0-9a-fA-F]+>")
_BARE_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}\b")
_HTML_START = re.compile(r"<!doctype html|<html[\s>]|<head[\s>]|<body[\s>]", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_INVISIBLE = re.compile(r"<(script|style|head)[^>]*>.*?</\1\s*>", re.I | re.S)
# Tags and comments, including one cut short (the page may arrive clipped).
_TAG = re.compile(r"<!--.*?(?:-->|$)|<[^>]*(?:>|$)", re.S)
_SPACE = re.compile(r"\s+")


def short_reason(error: BaseException | str) -> str:
    """``"Type: message"`` (or the text given), redacted, without addresses or HTML pages."""
    if isinstance(error, BaseException):
        text = f"{type(error).__name__}: {error}"
        status = _status_of(error)
    else:
        text, status = str(error), None
    text = _ADDRESS.sub(r"<\1>", redact(text))
    text = _BARE_ADDRESS.sub("", text)
    page = _HTML_START.search(text)
    if page is not None:
        text = _summarise_html(text[: page.start()], text[page.start() :], status)
    return _clip(_SPACE.sub(" ", text).strip())


def _summarise_html(before: str, page: str, status: int | None) -> str:
    found = _TITLE.search(page)
    title = _plain(found.group(1)) if found else ""
    body = _plain(_INVISIBLE.sub(" ", page))
    lead = before.strip().rstrip(":").strip()
    bits = [lead] if lead else []
    if status and str(status) not in lead:
        bits.append(f"HTTP {status}")
    bits.append(f"HTML page {title!r}" if title else "HTML page")
    summary = ": ".join(bits)
    if body:
        summary += f": {body[:HTML_TEXT_CHARS]}" + ("…" if len(body) > HTML_TEXT_CHARS else "")
    return summary


def _plain(fragment: str) -> str:
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment))).strip()


def _status_of(error: BaseException) -> int | None:
    for name in ("status_code", "code", "status"):
        value = getattr(error, name, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


__all__ = ["HTML_TEXT_CHARS", "MAX_REASON_CHARS", "short_reason"]
