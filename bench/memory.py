"""Benchmark 3: peak memory of a run stays flat as the spec grows.

Runs of the real CLI (offline renderer), the peak RSS sampled every 20 ms:

- 1024×1024, PNG + WebP: one spec ten times the size of the other (the
  ``mediagen`` process alone, as first measured);
- thumbnails at scale (issue 15): 2,000 and 10,000 images at 160×160 WebP, the
  peak RSS of the whole process tree (the CLI, its local Prefect API, any worker)
  against 600 MB, and the growth per image between the two.

Tasks pass keys, never bytes, Prefect keeps no object per image, and decoded
pixels in flight are bounded by the pixel budget (imaging/pixel_budget.py). What
still grows with the number of images is the run's own record: the plan and the
manifest's entries (≈ 21 KB per image in all, measured in bench/RESULTS.md,
"Issue 15, memory at 10,000 images").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.harness import CliRun, Row, Workspace, check, fmt_s, run_cli, write_spec


@dataclass(frozen=True)
class Params:
    small: int
    large: int
    size: str
    concurrency: int = 8
    scale: tuple[int, int] | None = (2000, 10000)  # thumbnail runs (issue 15)
    thumb: str = "160x160"


FULL = Params(small=100, large=1000, size="1024x1024")
TINY = Params(small=2, large=6, size="128x128", concurrency=2, scale=(4, 12), thumb="64x64")
SCALE_ONLY = Params(small=0, large=0, size="", scale=(2000, 10000))


def _run(root: Path, count: int, size: str, formats: tuple[str, ...], p: Params,
         api_url: str | None) -> CliRun:  # fmt: skip
    ws = Workspace.make(root / f"n{count}-{size}", api_url)
    spec = write_spec(
        ws.root / "memory.yaml", "memory", count, size=size, formats=formats,
        quality="standard",
    )  # fmt: skip
    result = run_cli(ws, "run", str(spec), "--concurrency", str(p.concurrency), timeout=7200)
    check(result, f"memory ({count} images, {size})")
    return result


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    rows: list[Row] = []
    if p.small:
        runs = {n: _run(root, n, p.size, ("png", "webp"), p, api_url) for n in (p.small, p.large)}
        peaks = {n: r.peak_rss_mb for n, r in runs.items()}
        ratio = peaks[p.large] / peaks[p.small]
        name = f"3 memory ({p.size}, PNG+WebP)"
        rows += [
            Row(name, f"peak RSS, {p.large} images", f"{peaks[p.large]:.0f} MB", "≤ 500 MB",
                peaks[p.large] <= 500),
            Row(name, f"peak RSS, {p.small} images", f"{peaks[p.small]:.0f} MB"),
            Row(name, f"peak {p.large} / peak {p.small}", f"{ratio:.2f}×", "≤ 1.3×",
                ratio <= 1.3),
            Row(name, "wall times",
                f"{fmt_s(runs[p.small].wall)} / {fmt_s(runs[p.large].wall)}"),
        ]  # fmt: skip
    if p.scale:
        few, many = p.scale
        runs = {n: _run(root, n, p.thumb, ("webp",), p, api_url) for n in (few, many)}
        tree = {n: r.peak_tree_rss_mb for n, r in runs.items()}
        per_image_kb = (tree[many] - tree[few]) * 1024 / (many - few)
        name = f"3 memory at scale ({p.thumb} WebP, offline)"
        rows += [
            Row(name, f"peak RSS of the process tree, {many} images", f"{tree[many]:.0f} MB",
                "≤ 600 MB", tree[many] <= 600),
            Row(name, f"peak RSS of the process tree, {few} images", f"{tree[few]:.0f} MB"),
            Row(name, "peak RSS of the CLI process alone",
                f"{runs[few].peak_rss_mb:.0f} MB / {runs[many].peak_rss_mb:.0f} MB"),
            Row(name, f"growth per image ({few} → {many})", f"{per_image_kb:.1f} KB"),
            Row(name, "wall times", f"{fmt_s(runs[few].wall)} / {fmt_s(runs[many].wall)}"),
        ]  # fmt: skip
    return rows


__all__ = ["FULL", "SCALE_ONLY", "TINY", "run"]
