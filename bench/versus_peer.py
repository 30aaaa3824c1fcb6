"""Benchmark 9: mediagen side by side with the hand-written peer (issue 15).

The same prompts, at the same concurrency, against the same local Gemini server
(``mediagen.testing.FakeGeminiServer``, every answer after ``latency`` seconds):

- mediagen: the real ``mediagen run`` a user runs (a subprocess of the CLI, its
  own temporary Prefect API, a local folder bucket), 320×320 JPEG thumbnails;
- the peer (``bench/peer.py``): the google-genai SDK in a ``ThreadPoolExecutor``,
  Pillow ``ImageOps.fit`` to 320×320, a JPEG in a local folder; also a subprocess,
  timed from launch like mediagen.

Each side gets a fresh server (same settings); wall time is launch → exit,
start-up is launch → the first request the server saw, CPU the seconds its
processes used (mediagen's temporary API included: on a loaded machine the one
figure the load does not inflate much). Ideal is N·L/C. Workloads:
1,000 images at 64 in flight, 200 at 16, 10 at 16 (``--quick``: smaller N); the
first again with a Prefect event for every image (``MEDIAGEN_IMAGE_EVENTS=all``),
which prices the events the default leaves out.

Run alone: ``python -m bench.versus_peer [--quick]`` (prints rows and the load
before/after); in the suite: ``python -m bench --only 9``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import REPO, Row, Workspace, check, children_cpu, fmt_s, run_cli, write_spec
from mediagen.testing import FakeGeminiServer, Fault

IMAGE_SIDE = 512  # what the server answers (a 1K request at a small size asks for 512)


@dataclass(frozen=True)
class Workload:
    images: int
    concurrency: int


@dataclass(frozen=True)
class Params:
    workloads: tuple[Workload, ...]
    latency: float = 1.0
    price_events: bool = True  # the first workload again, with an event per image


FULL = Params((Workload(1000, 64), Workload(200, 16), Workload(10, 16)))
QUICK = Params((Workload(300, 64), Workload(100, 16), Workload(10, 16)))
TINY = Params((Workload(6, 3),), latency=0.05, price_events=False)


@dataclass
class Side:
    wall: float
    startup: float
    requests: int
    files: int
    cpu: float  # CPU seconds of its processes (mediagen's temporary API included)


def _server(latency: float) -> FakeGeminiServer:
    server = FakeGeminiServer(image_side=IMAGE_SIDE, max_side=IMAGE_SIDE)
    server.start()
    server.script(Fault.slow(latency), times=None)
    return server


def run_mediagen(root: Path, w: Workload, latency: float, api_url: str | None, **env: str) -> Side:
    server = _server(latency)
    try:
        ws = Workspace.make(root, api_url, **env)
        ws.gemini(server.base_url)
        spec = write_spec(
            root / "versus.yaml", "versus", w.images, size="thumbnail", formats=("jpeg",),
            concurrency=w.concurrency,
        )  # fmt: skip
        cpu = children_cpu()
        run = run_cli(ws, "run", str(spec), "--concurrency", str(w.concurrency))
        cpu = children_cpu() - cpu
        check(run, f"versus peer: mediagen {w.images}/{w.concurrency}")
        requests = server.image_requests
        startup = min(r.started for r in requests) - run.started_at
        files = len(list((root / "bucket" / "versus").glob("img-*.jpg")))
        return Side(run.wall, startup, len(requests), files, cpu)
    finally:
        server.stop()


def run_peer(root: Path, w: Workload, latency: float) -> Side:
    from mediagen.backends.gemini.catalogue import DEFAULT_IMAGE_MODEL

    server = _server(latency)
    try:
        out = root / "peer-out"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as for mediagen (bench/harness.py)
        env["PYTHONPATH"] = str(REPO)
        cpu = children_cpu()
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "bench.peer", "--base-url", server.base_url, "--model",
             DEFAULT_IMAGE_MODEL, "--out", str(out), str(w.images), str(w.concurrency)],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        wall = time.monotonic() - started
        cpu = children_cpu() - cpu
        if proc.returncode != 0:
            raise RuntimeError(f"peer exited {proc.returncode}: {proc.stderr[-2000:]}")
        requests = server.image_requests
        startup = min(r.started for r in requests) - started
        return Side(wall, startup, len(requests), len(list(out.glob("*.jpg"))), cpu)
    finally:
        server.stop()


def run(root: Path, p: Params, api_url: str | None = None, progress: bool = False) -> list[Row]:
    rows: list[Row] = []
    for w in p.workloads:
        if progress and rows:
            for row in rows[-9:]:
                print(f"  {row.metric}: {row.value} {row.target} {row.verdict}", flush=True)
        name = f"9 vs peer ({w.images} img, {p.latency:g} s, c={w.concurrency})"
        peer = run_peer(root / f"peer-{w.images}-{w.concurrency}", w, p.latency)
        ours = run_mediagen(root / f"mediagen-{w.images}-{w.concurrency}", w, p.latency, api_url)
        ideal = w.images * p.latency / w.concurrency
        ratio = ours.wall / peer.wall
        rows += [
            Row(name, "mediagen wall (start-up)", f"{fmt_s(ours.wall)} ({fmt_s(ours.startup)})"),
            Row(name, "peer wall (start-up)", f"{fmt_s(peer.wall)} ({fmt_s(peer.startup)})"),
            Row(name, "ideal N·L/C", fmt_s(ideal)),
            Row(name, "CPU s (mediagen / peer)",
                f"{fmt_s(ours.cpu)} / {fmt_s(peer.cpu)} = {ours.cpu / max(peer.cpu, 1e-9):.2f}×"),
            Row(name, "mediagen / peer", f"{ratio:.2f}×",
                *(("≤ 1.3×", ratio <= 1.3) if w.images >= 1000 else ())),
            Row(name, "mediagen − start-up vs ideal",
                f"{(ours.wall - ours.startup) / ideal:.2f}×",
                *(("≤ 1.15×", ours.wall <= 1.15 * ideal + ours.startup)
                  if (w.images, w.concurrency) == (200, 16) else ())),
            Row(name, "peer − start-up vs ideal", f"{(peer.wall - peer.startup) / ideal:.2f}×"),
            Row(name, "requests (mediagen / peer)", f"{ours.requests} / {peer.requests}",
                f"= {w.images}", ours.requests == peer.requests == w.images),
            Row(name, "thumbnails written (mediagen / peer)", f"{ours.files} / {peer.files}",
                f"= {w.images}", ours.files == peer.files == w.images),
        ]  # fmt: skip
        if p.price_events and w is p.workloads[0]:
            rows += _events_price(root, w, p.latency, api_url, ours)
    return rows


def _events_price(root: Path, w: Workload, latency: float, api_url: str | None,
                  ours: Side) -> list[Row]:  # fmt: skip
    """The same run with a Prefect event for every image (``MEDIAGEN_IMAGE_EVENTS=all``):
    what the default (events only for images not published) saves."""
    every = run_mediagen(root / f"mediagen-{w.images}-events", w, latency, api_url,
                         MEDIAGEN_IMAGE_EVENTS="all")  # fmt: skip
    name = f"9 vs peer ({w.images} img, {latency:g} s, c={w.concurrency})"
    per_image_ms = (every.cpu - ours.cpu) / w.images * 1000
    return [
        Row(name, "with an event per image: wall (start-up)",
            f"{fmt_s(every.wall)} ({fmt_s(every.startup)})"),
        Row(name, "with an event per image: CPU s (extra per image)",
            f"{fmt_s(every.cpu)} ({per_image_ms:+.1f} ms)"),
    ]  # fmt: skip


def main() -> None:
    from bench.__main__ import standalone

    standalone("python -m bench.versus_peer", __doc__, run, (FULL, QUICK, TINY), "smaller N")


if __name__ == "__main__":
    main()
