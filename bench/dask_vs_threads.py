"""Benchmark 8: where the Dask runner beats threads on this machine, if anywhere.

The same spec through ``mediagen run --runner thread`` and ``--runner dask`` (a local
cluster of 2 worker processes), side by side in one invocation, each in a fresh
bucket; the offline renderer, so no backend latency hides the CPU work:

- **4K AVIF renditions**: 3840×2160 originals, AVIF + WebP + JPEG at four widths, the
  brand check and placeholders: the CPU-heavy case Dask is meant for;
- **thumbnails**: 160×160 WebP: almost no CPU per image, orchestration only.

For each: wall time, the CPU seconds of the whole run (the CLI and every process it
started: local API, Dask workers; from ``getrusage(RUSAGE_CHILDREN)``), and CPU seconds
per image (the thread run's: what one image costs, the figure docs/scale-out.md scales).
The manifests must match (ids, statuses, sha256 of every file).
"""

from __future__ import annotations

import json
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.harness import CliRun, Row, Workspace, check, fmt_s, run_cli


@dataclass(frozen=True)
class Workload:
    name: str
    images: int
    size: str
    formats: tuple[str, ...]
    widths: tuple[int, ...] = ()
    brand: bool = False


@dataclass(frozen=True)
class Params:
    workloads: tuple[Workload, ...]
    concurrency: int = 4
    workers: int = 2


HEAVY = Workload("4K AVIF renditions", 12, "3840x2160", ("avif",), (640, 1280, 1920, 3840), True)
LIGHT = Workload("thumbnails", 200, "160x160", ("webp",))
FULL = Params((HEAVY, LIGHT))
TINY = Params(
    (Workload("4K AVIF renditions", 2, "640x360", ("avif",), (320,), True),
     Workload("thumbnails", 4, "64x64", ("webp",))),
    concurrency=2,
)  # fmt: skip


def _spec(path: Path, w: Workload) -> Path:
    defaults: dict[str, Any] = {"size": w.size, "formats": list(w.formats), "quality": "standard"}
    if w.widths:
        defaults["variants"] = {"widths": list(w.widths), "formats": ["avif", "webp", "jpeg"]}
    if w.brand:
        defaults["brand_colors"] = ["#0A7B83 teal", "#F2A541 saffron"]
        defaults["brand_fit"] = {"max_delta_e": 12}
    spec = {
        "name": "dask-vs-threads",
        "max_images": w.images,
        "defaults": defaults,
        "images": [{"id": "img-{n}", "prompt": "A calm harbour at dawn, number {n}",
                    "matrix": {"n": list(range(w.images))}}],
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(root: Path, w: Workload, runner: str, p: Params, api_url: str | None) -> tuple[
    CliRun, float, dict[str, Any]
]:  # fmt: skip
    ws = Workspace.make(root / runner, api_url, MEDIAGEN_DASK_WORKERS=str(p.workers))
    spec = _spec(ws.root / "spec.yaml", w)
    cpu = _children_cpu()
    run = run_cli(ws, "run", str(spec), "--concurrency", str(p.concurrency), "--runner", runner,
                  timeout=3600)  # fmt: skip
    cpu = _children_cpu() - cpu
    check(run, f"{w.name} ({runner})")
    data = json.loads((ws.root / "bucket" / "dask-vs-threads" / "manifest.json").read_text())
    same = {k: (v["status"], sorted(o["sha256"] for o in v["outputs"]))
            for k, v in data["images"].items()}  # fmt: skip
    return run, cpu, same


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    rows: list[Row] = []
    for w in p.workloads:
        where = root / w.name.replace(" ", "-")
        threads, t_cpu, t_manifest = _once(where, w, "thread", p, api_url)
        dask, d_cpu, d_manifest = _once(where, w, "dask", p, api_url)
        name = (
            f"8 dask vs threads: {w.name} ({w.images} img, {p.workers} workers, c={p.concurrency})"
        )
        faster = threads.wall / dask.wall
        rows += [
            Row(name, "wall: threads / dask", f"{fmt_s(threads.wall)} / {fmt_s(dask.wall)}"),
            Row(name, "dask speed-up over threads", f"{faster:.2f}×"),
            Row(name, "CPU s, whole run: threads / dask", f"{t_cpu:.1f} / {d_cpu:.1f}"),
            Row(name, "CPU s per image (threads, incl. start-up)", f"{t_cpu / w.images:.2f}"),
            Row(name, "peak RSS of the process tree: threads / dask",
                f"{threads.peak_tree_rss_mb:.0f} / {dask.peak_tree_rss_mb:.0f} MB"),
            Row(name, "same manifest (ids, status, sha256)",
                "yes" if t_manifest == d_manifest else "NO", "same", t_manifest == d_manifest),
        ]  # fmt: skip
    return rows


__all__ = ["FULL", "TINY", "run"]
