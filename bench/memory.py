"""Benchmark 3: peak memory of a run stays flat as the spec grows.

Two runs of the real CLI (offline renderer, 1024×1024, PNG + WebP), one ten
times the size of the other; the peak RSS of the ``mediagen`` process is
sampled every 20 ms. Tasks pass keys, never bytes, and Prefect keeps no
results in memory, so the peak should not grow with the number of images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Workspace, check, fmt_s, run_cli, write_spec


@dataclass(frozen=True)
class Params:
    small: int
    large: int
    size: str
    concurrency: int = 8


FULL = Params(small=100, large=1000, size="1024x1024")
TINY = Params(small=2, large=6, size="128x128", concurrency=2)


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    peaks = {}
    walls = {}
    for count in (p.small, p.large):
        ws = Workspace.make(root / f"n{count}", api_url)
        spec = write_spec(
            ws.root / "memory.yaml", "memory", count, size=p.size, formats=("png", "webp"),
            quality="standard",
        )  # fmt: skip
        result = run_cli(ws, "run", str(spec), "--concurrency", str(p.concurrency))
        check(result, f"memory ({count} images)")
        peaks[count], walls[count] = result.peak_rss_mb, result.wall
    ratio = peaks[p.large] / peaks[p.small]
    name = f"3 memory ({p.size}, PNG+WebP)"
    return [
        Row(name, f"peak RSS, {p.large} images", f"{peaks[p.large]:.0f} MB", "≤ 500 MB",
            peaks[p.large] <= 500),
        Row(name, f"peak RSS, {p.small} images", f"{peaks[p.small]:.0f} MB"),
        Row(name, f"peak {p.large} / peak {p.small}", f"{ratio:.2f}×", "≤ 1.3×", ratio <= 1.3),
        Row(name, "wall times", f"{fmt_s(walls[p.small])} / {fmt_s(walls[p.large])}"),
    ]  # fmt: skip
