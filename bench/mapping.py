"""Benchmark 10: how images map onto Prefect task runs, the alternatives side by side.

One invocation, one workload (N images, 1 s latency, C in flight, the local Gemini
server), each mapping a fresh server and a fresh workspace:

- ``3 task runs per image``: the flow before issue 15 (generate → process → upload,
  each a task run), run from main's ``flows/`` at :data:`BASELINE` through the
  same ``mediagen run`` (today's engine underneath);
- ``1 task run per image``: the chain inside one task run (``MEDIAGEN_IMAGES_PER_TASK=1``);
- ``k images per task run``: an in-task thread pool (``MEDIAGEN_IMAGES_PER_TASK=k``;
  ``auto`` is what ``mediagen run`` chooses for N);
- ``async tasks, one loop``: an async task run per image awaited on the flow's event
  loop, the chain in a thread pool (``bench/mapping_async.py``; not shipped).

What a mapping costs shows in its CPU seconds (the run's processes, its temporary
API included: what a loaded machine cannot hide) and in ``wall − start-up``
(launch → the first request is imports, the temporary API and planning: the same
for every mapping) against the ideal N·L/C.

Run alone: ``python -m bench.mapping [--quick]``; in the suite: ``python -m bench --only 10``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    REPO,
    CliRun,
    Row,
    Workspace,
    check,
    children_cpu,
    fmt_s,
    run_cli,
    write_spec,
)
from mediagen.engine.pool import images_per_task
from mediagen.testing import FakeGeminiServer, Fault

BASELINE = "8c3595b"  # main before issue 15: three task runs per image


@dataclass(frozen=True)
class Params:
    images: int
    concurrency: int
    latency: float = 1.0
    chunks: tuple[int, ...] = (10,)  # besides 1 and auto (10: the auto choice before session 5)


FULL = Params(images=1000, concurrency=64)
QUICK = Params(images=200, concurrency=16, chunks=(16,))
TINY = Params(images=6, concurrency=3, latency=0.05, chunks=(3,))


@dataclass
class Measured:
    wall: float
    startup: float
    requests: int
    max_in_flight: int
    cpu: float  # CPU seconds of the run's processes (its temporary API included)


def baseline_available() -> bool:
    """Whether this checkout holds BASELINE (a shallow clone does not)."""
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{BASELINE}^{{commit}}"], cwd=REPO, capture_output=True
    )
    return found.returncode == 0


def _baseline_tree(root: Path) -> Path:
    """main's ``flows/`` and ``mediagen/`` at BASELINE, in a folder put first on PYTHONPATH.

    Both packages, not ``flows/`` alone: old flows beside today's library break as soon as
    an internal they import moves (the CLI's early local API did)."""
    target = root / "baseline"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", BASELINE, "flows", "mediagen"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def _measure(
    root: Path, p: Params, env: dict[str, str], command: list[str] | None, api_url: str | None
) -> Measured:
    with FakeGeminiServer(image_side=64, max_side=64) as gemini:
        gemini.script(Fault.slow(p.latency), times=None)
        ws = Workspace.make(root, api_url)
        ws.gemini(gemini.base_url)
        # The async variant starts Prefect's own temporary API (the CLI waits as long).
        ws.env |= {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300"} | env
        spec = write_spec(root / "mapping.yaml", "mapping", p.images, concurrency=p.concurrency)
        cpu = children_cpu()
        if command is None:
            run = run_cli(ws, "run", str(spec), "--concurrency", str(p.concurrency))
            check(run, f"mapping {root.name}")
        else:
            run = _run_script(ws, [*command, str(spec), str(p.concurrency)])
        requests = gemini.image_requests
        startup = min(r.started for r in requests) - run.started_at
        cpu = children_cpu() - cpu
        return Measured(run.wall, startup, len(requests), gemini.max_in_flight, cpu)


def _run_script(ws: Workspace, args: list[str]) -> CliRun:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ws.root, env=ws.env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[1]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return CliRun(wall, 0, proc.stdout, proc.stderr, 0.0, started)


def variants(root: Path, p: Params) -> dict[str, tuple[dict[str, str], list[str] | None]]:
    auto = images_per_task(p.images)
    out: dict[str, tuple[dict[str, str], list[str] | None]] = {}
    if baseline_available():
        baseline = _baseline_tree(root)
        out["3 task runs per image (before)"] = ({"PYTHONPATH": f"{baseline}:{REPO}"}, None)
    out |= {
        "1 task run per image": ({"MEDIAGEN_IMAGES_PER_TASK": "1"}, None),
        f"{auto} images per task run (auto)": ({"MEDIAGEN_IMAGES_PER_TASK": "0"}, None),
    }
    for k in p.chunks:
        if k not in (1, auto):
            out[f"{k} images per task run"] = ({"MEDIAGEN_IMAGES_PER_TASK": str(k)}, None)
    out["async tasks, one loop"] = ({}, ["-m", "bench.mapping_async"])
    return out


def run(root: Path, p: Params, api_url: str | None = None, progress: bool = False) -> list[Row]:
    ideal = p.images * p.latency / p.concurrency
    name = f"10 mapping ({p.images} img, {p.latency:g} s, c={p.concurrency})"
    rows = [Row(name, "ideal N·L/C", fmt_s(ideal))]
    for label, (env, command) in variants(root, p).items():
        slug = "".join(c if c.isalnum() else "-" for c in label)
        try:
            m = _measure(root / slug, p, env, command, api_url)
        except Exception as exc:  # one mapping failing must not lose the others' figures
            rows.append(Row(name, label, f"did not finish: {str(exc)[-300:]}", "", False))
            continue
        work = m.wall - m.startup
        rows.append(
            Row(name, label,
                f"wall {fmt_s(m.wall)}, start-up {fmt_s(m.startup)}, wall − start-up "
                f"{fmt_s(work)} = {work / ideal:.2f}× ideal; CPU {fmt_s(m.cpu)} "
                f"({1000 * m.cpu / p.images:.0f} ms/image); {m.requests} requests, "
                f"≤ {m.max_in_flight} in flight",
                f"= {p.images} requests", m.requests == p.images)
        )  # fmt: skip
        if progress:
            print(f"  {label}: {rows[-1].value}", flush=True)
    return rows


def main() -> None:
    from bench.__main__ import standalone

    standalone("python -m bench.mapping", __doc__, run, (FULL, QUICK, TINY),
               "200 images at 16 in flight")  # fmt: skip


if __name__ == "__main__":
    main()
