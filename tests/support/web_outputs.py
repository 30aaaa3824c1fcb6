"""Reading web outputs back as a browser or a photo tool does: srcset strings, XMP fields.

Shared by the imaging unit tests and the flow tests (plain helpers, no fixtures).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

HUMAN_ALT = 'A teal piggy bank beside a "house fund" jar; coins stacked in three rising piles, ' + (
    "late-afternoon light, calm and hopeful, the savings goal almost reached"
)  # longer than 125 characters on purpose: a person's text is never clipped


def parse_srcset(text: str) -> list[tuple[str, int]]:
    """(url, width) candidates, following the HTML srcset parsing rules for 'w' descriptors.

    A URL runs to the next whitespace (a trailing comma ends the candidate);
    descriptors run to the next comma.
    """
    out: list[tuple[str, int]] = []
    pos = 0
    while True:
        while pos < len(text) and (text[pos].isspace() or text[pos] == ","):
            pos += 1
        if pos >= len(text):
            return out
        match = re.compile(r"\S+").match(text, pos)
        assert match is not None
        url, pos = match.group(0), match.end()
        descriptors = ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = text.find(",", pos)
            end = len(text) if end == -1 else end
            descriptors, pos = text[pos:end].strip(), end + 1
        found = re.fullmatch(r"(\d+)w", descriptors)
        assert found, f"candidate {url!r} has no width descriptor: {descriptors!r}"
        out.append((url, int(found.group(1))))


def exiftool(paths: list[Path]) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        ["exiftool", "-json", "-XMP-iptcExt:DigitalSourceType",
         "-XMP-iptcCore:AltTextAccessibility", "-XMP-xmp:CreatorTool", *map(str, paths)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {Path(item["SourceFile"]).name: item for item in json.loads(result.stdout)}
