"""Short, one-line accounts of a run for people: a failed image, an interrupted run.

Used by the CLI and by the flow (which hands the CLI's watchdog its last lines).
Manifest ``error`` texts are ``stage: ExceptionName: message``; a line keeps the
stage and the message's first line, clipped.
"""

from __future__ import annotations

import re
from typing import Any

from mediagen.manifest.model import Manifest

REASON_CHARS = 160
MAX_FAILURE_LINES = 5  # after an interrupt the whole report stays under ~10 lines


_EXCEPTION_NAME = re.compile(r"^[A-Z]\w*(Error|Exception|Exceeded): ")


def short_reason(error: str) -> tuple[str, str]:
    """(stage, short reason) of a manifest ``error`` like ``generate: TransientError: …``."""
    stage, _, rest = error.partition(": ")
    if stage not in ("generate", "process", "upload") or not rest:
        stage, rest = "", error
    first = (rest.strip().splitlines() or [""])[0]
    first = _EXCEPTION_NAME.sub("", first, count=1)
    if len(first) > REASON_CHARS:
        first = first[: REASON_CHARS - 1].rstrip() + "…"
    return stage, first


def failure_line(entry: Any) -> str:
    """``failed: hero (generate): 503 UNAVAILABLE: The model is overloaded.``"""
    stage, reason = short_reason(entry.error or entry.status)
    return f"{entry.status}: {entry.id}" + (f" ({stage})" if stage else "") + f": {reason}"


def interrupted_lines(manifest: Manifest, manifest_url: str) -> list[str]:
    """The few lines an interrupted run ends with, in the CLI."""
    counts = manifest.counts
    lines = [
        f"interrupted: {counts.get('ok', 0)} of {len(manifest.images)} image(s) published, "
        f"{counts.get('pending', 0)} pending; run again to resume them "
        "(nothing already paid for is made again)"
    ]
    failed = [e for e in manifest.failed() if e.status in ("failed", "blocked")]
    lines += [failure_line(e) for e in failed[:MAX_FAILURE_LINES]]
    if len(failed) > MAX_FAILURE_LINES:
        lines.append(f"... and {len(failed) - MAX_FAILURE_LINES} more not published")
    lines.append(f"partial manifest: {manifest_url}")
    return lines
