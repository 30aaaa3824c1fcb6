"""Benchmarks 1 and 6: throughput against a slow backend, thread runner vs a Dask cluster.

The fake Gemini server answers every request after ``latency`` seconds; the
run makes ``images`` images at ``concurrency``. Ideal wall time is
``images × latency / concurrency``; start-up (Python, Prefect, planning) is
measured in the same run as the time from launch to the first backend request.
The old service made images one after another: that loop (generate → process
→ upload through the same library) is timed on a sample and scaled to ``images``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import CliRun, Row, Workspace, check, fmt_s, run_cli, write_spec
from mediagen.testing import FakeGeminiServer, Fault


@dataclass(frozen=True)
class Params:
    images: int
    latency: float
    concurrency: int
    sequential_sample: int
    dask_workers: int = 2


FULL = Params(images=200, latency=1.0, concurrency=16, sequential_sample=16)
TINY = Params(images=6, latency=0.05, concurrency=3, sequential_sample=2)


@dataclass
class Measured:
    run: CliRun
    startup: float
    requests: int
    manifest: dict[str, tuple[str, str]]  # id -> (status, sha256 of the main output)


def _run_once(root: Path, p: Params, runner: str, api_url: str | None) -> Measured:
    with FakeGeminiServer(image_side=64, max_side=64) as gemini:
        gemini.script(Fault.slow(p.latency), times=None)
        ws = Workspace.make(root, api_url)
        ws.gemini(gemini.base_url)
        ws.env["MEDIAGEN_DASK_WORKERS"] = str(p.dask_workers)
        spec = write_spec(root / "throughput.yaml", "throughput", p.images, concurrency=16)
        extra = ("--runner", runner) if runner != "thread" else ()
        run = run_cli(ws, "run", str(spec), "--concurrency", str(p.concurrency), *extra)
        check(run, f"throughput ({runner})")
        requests = gemini.requests
        first = min(r.started for r in requests)
        manifest = _manifest(root / "bucket" / "throughput" / "manifest.json")
        return Measured(run, first - run.started_at, len(requests), manifest)


def _manifest(path: Path) -> dict[str, tuple[str, str]]:
    import json

    data = json.loads(path.read_text())
    return {k: (v["status"], v.get("sha256") or "") for k, v in data["images"].items()}


def _sequential(root: Path, p: Params) -> float:
    """Seconds per image of the old service's loop: one image at a time, same library
    (the engine's :func:`~mediagen.engine.orchestrate.make_image`, one Run)."""
    from bench.populate import context
    from mediagen.engine.orchestrate import make_image

    with FakeGeminiServer(image_side=64, max_side=64) as gemini:
        gemini.script(Fault.slow(p.latency), times=None)
        ws = Workspace.make(root)
        ws.gemini(gemini.base_url)
        spec_path = write_spec(root / "seq.yaml", "sequential", p.sequential_sample)
        with ws.environ():
            ctx, jobs = context(spec_path, run_id="sequential")
            with ctx.new_run() as run:
                started = time.perf_counter()
                for job in jobs:
                    make_image(job, ctx, run)
                elapsed = time.perf_counter() - started
        assert len(gemini.requests) == len(jobs)
    return elapsed / len(jobs)


def run(root: Path, p: Params, api_url: str | None = None, dask: bool = True) -> list[Row]:
    threads = _run_once(root / "threads", p, "thread", api_url)
    per_image = _sequential(root / "sequential", p)
    ideal = p.images * p.latency / p.concurrency
    budget = 1.15 * ideal + threads.startup
    work = threads.run.wall - threads.startup
    sequential = per_image * p.images
    name = f"1 throughput ({p.images} img, {p.latency:g} s, c={p.concurrency})"
    rows = [
        Row(name, "wall time", fmt_s(threads.run.wall), f"≤ {fmt_s(budget)}",
            threads.run.wall <= budget),
        Row(name, "start-up (launch → 1st backend call)", fmt_s(threads.startup)),
        Row(name, "wall − start-up vs ideal", f"{work / ideal:.3f}× of {fmt_s(ideal)}",
            "≤ 1.15×", work <= 1.15 * ideal),
        Row(name, "backend calls", str(threads.requests), f"= {p.images}",
            threads.requests == p.images),
        Row(name, "sequential loop (old service)",
            f"{fmt_s(sequential)} ({per_image:.3f} s/img × {p.images}, "
            f"{p.sequential_sample} timed)"),
        Row(name, "speed-up vs sequential loop", f"{sequential / threads.run.wall:.1f}×"),
    ]  # fmt: skip
    if dask:
        cluster = _run_once(root / "dask", p, "dask", api_url)
        same = cluster.manifest == threads.manifest
        dname = f"6 scale-out (dask, {p.dask_workers} workers)"
        rows += [
            Row(dname, "wall time", fmt_s(cluster.run.wall)),
            Row(dname, "start-up (launch → 1st backend call)", fmt_s(cluster.startup)),
            Row(dname, "wall vs thread runner",
                f"{cluster.run.wall / threads.run.wall:.2f}×"),
            Row(dname, "wall − start-up vs thread runner",
                f"{(cluster.run.wall - cluster.startup) / work:.2f}×"),
            Row(dname, "backend calls", str(cluster.requests), f"= {p.images}",
                cluster.requests == p.images),
            Row(dname, "same manifest (ids, status, sha256)", "yes" if same else "NO",
                "same", same),
        ]  # fmt: skip
    return rows
