"""Benchmark 2: a no-op re-run of a large spec that is entirely up to date.

mediagen plans first (the spec's jobs diffed against the manifest in the
bucket) and, with nothing to do, never starts Prefect. The comparison is the
design without a plan: every image through Prefect's task cache
(``INPUTS + TASK_SOURCE``), see :mod:`bench.prefect_cache_variant`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Workspace, check, fmt_s, run_cli, write_spec
from bench.populate import populate
from mediagen.testing import FakeGeminiServer


@dataclass(frozen=True)
class Params:
    images: int
    # The task-cache comparison at 10,000 images is ~10 min of Prefect and says what
    # 1,000 said (20× slower): it runs on a spec of at most this many images.
    cache_variant_images: int = 1000


FULL = Params(images=10000)  # issue 15: a no-op re-run of 10,000 images in ≤ 10 s
TINY = Params(images=5)


def _snapshot(bucket: Path) -> dict[str, int]:
    """Every object in the local bucket and its modification time: a write changes it."""
    return {str(p): p.stat().st_mtime_ns for p in bucket.rglob("*") if p.is_file()}


def _cache_variant(ws: Workspace, spec: Path) -> tuple[float, dict[str, int]]:
    import subprocess

    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.prefect_cache_variant", str(spec)],
        cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"task-cache variant failed:\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    with FakeGeminiServer(image_side=32, max_side=32) as gemini:
        ws = Workspace.make(root, api_url, PREFECT_LOCAL_STORAGE_PATH=str(root / "prefect-results"))
        ws.gemini(gemini.base_url)
        spec = write_spec(root / "noop.yaml", "noop", p.images, size="32x32")
        populate(ws, spec)
        before_calls = len(gemini.requests)
        before = _snapshot(root / "bucket")
        rerun = run_cli(ws, "run", str(spec))
        check(rerun, "no-op re-run")
        calls = len(gemini.requests) - before_calls
        written = sum(1 for k, v in _snapshot(root / "bucket").items() if before.get(k) != v)
        # The alternative design: a first pass fills Prefect's cache, the second is timed.
        if p.images > p.cache_variant_images:
            spec = write_spec(root / "cached.yaml", "noop", p.cache_variant_images, size="32x32")
        _cache_variant(ws, spec)
        calls_before_cached = len(gemini.requests)
        cached_wall, cached = _cache_variant(ws, spec)
        cached_calls = len(gemini.requests) - calls_before_cached
    name = f"2 no-op re-run ({p.images} img)"
    hits = cached["completed"] - cached["executed"]
    cached_images = min(p.images, p.cache_variant_images)
    return [
        Row(name, "wall time (mediagen run)", fmt_s(rerun.wall), "≤ 10 s", rerun.wall <= 10),
        Row(name, "backend calls", str(calls), "= 0", calls == 0),
        Row(name, "objects written", str(written), "= 0", written == 0),
        Row(name, "says 'up to date'", "yes" if "up to date" in rerun.stdout else "NO", "yes",
            "up to date" in rerun.stdout),
        Row(name, f"every image through Prefect's task cache ({cached_images} img)",
            f"{fmt_s(cached_wall)} ({hits} cache hits, {cached_calls} backend calls)"),
        Row(name, "task-cache design vs plan-first",
            f"{cached_wall / rerun.wall * p.images / cached_images:.1f}× slower per image"),
    ]  # fmt: skip


__all__ = ["FULL", "TINY", "run"]
