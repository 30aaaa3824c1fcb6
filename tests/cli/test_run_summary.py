"""The table `mediagen run` prints at the end: every image of a small run; for a large
one, the images that were not published first and a pointer to the manifest (a
terminal is no place for 10,000 rows, nor worth the seconds rich takes to lay them out).
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mediagen.cli import run as cli_run
from mediagen.manifest.model import ImageEntry, Manifest


class _Bucket:
    def plain_url(self, key: str) -> str:
        return f"file:///bucket/{key}"


def _entry(image_id: str, status: str = "ok") -> ImageEntry:
    return ImageEntry(
        id=image_id, status=status, width=1, height=1, format="png", prompt="x", subject="x",
        backend="offline", model="m", theme="modern", size="standard", quality="fast",
        gen_key=f"g-{image_id}", outputs=[], original_key=f"p/_originals/{image_id}.png",
        url=f"file:///bucket/p/{image_id}.png" if status == "ok" else None,
        error=None if status == "ok" else f"why {image_id}",
    )  # fmt: skip


def _printed(monkeypatch: pytest.MonkeyPatch, *entries: ImageEntry) -> str:
    out = io.StringIO()
    monkeypatch.setattr(cli_run, "console", Console(file=out, width=240, no_color=True))
    counts = {"ok": sum(e.status == "ok" for e in entries)}
    images = {e.id: e for e in entries}
    manifest = Manifest(spec_name="s", spec_hash="h", run_id="r", images=images, counts=counts)
    cli_run.print_summary(manifest, _Bucket(), "p")  # type: ignore[arg-type]
    return out.getvalue()


def _rows(text: str) -> list[str]:
    return [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 2]


def test_a_small_run_lists_every_image_in_spec_order(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [_entry("a"), _entry("b", "failed"), _entry("c")]
    text = _printed(monkeypatch, *entries)
    assert _rows(text) == ["a", "b", "c"]
    assert "more image(s)" not in text


def test_a_large_run_shows_what_failed_first_and_points_to_the_manifest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    many = [_entry(f"img-{n:03d}") for n in range(2 * cli_run.SUMMARY_ROWS)]
    failed = [_entry("late-failure", "failed"), _entry("late-block", "blocked")]
    text = _printed(monkeypatch, *many, *failed)
    rows = _rows(text)
    assert len(rows) == cli_run.SUMMARY_ROWS
    assert rows[:2] == ["late-failure", "late-block"]  # not published: first, whatever order
    assert rows[2:] == [e.id for e in many[: cli_run.SUMMARY_ROWS - 2]]
    assert f"… and {len(many) + 2 - cli_run.SUMMARY_ROWS} more image(s)" in text
    assert "manifest: file:///bucket/" in text
