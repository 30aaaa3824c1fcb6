"""Benchmark 7: start-up of a 1-image spec, and what each part of it costs.

Four ways to the first backend request, each a fresh process against the same
local Gemini server (no latency), the offline bucket in a local folder:

- **the parts, one after another** (:mod:`bench.startup_probe`): the CLI's own
  steps in the order ``mediagen run`` took them before issue 15 (imports, spec,
  lease, plan, Prefect imports, the local API, the flow run), each timed in wall
  and CPU seconds: the breakdown;
- **``mediagen run``** as a user runs it (the local API started as soon as the plan
  says there is work, while Prefect and the flow are imported);
- **``mediagen run`` against a running server** (``PREFECT_API_URL`` set: no local API
  to start; the server is started first, untimed);
- **the engine alone** (no Prefect: plan, make, manifest): the floor.

CPU seconds are given beside wall seconds: on this shared 2-core machine the wall
clock depends on other people's load, a process's CPU time much less so. Each
figure is the median of ``repeats`` runs.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Workspace, check, fmt_s, run_cli, write_spec
from mediagen.testing import FakeGeminiServer


@dataclass(frozen=True)
class Params:
    repeats: int
    with_server: bool = True


FULL = Params(repeats=3)
TINY = Params(repeats=1, with_server=False)


@dataclass
class Timed:
    first_request: float  # launch → the backend's first request
    wall: float  # launch → exit
    parts: list[tuple[str, float, float]]  # (step, wall s, CPU s of this process)
    api_cpu: float = 0.0


def _probe(ws: Workspace, gemini: FakeGeminiServer, spec: Path, *flags: str) -> Timed:
    out = ws.root / "probe.json"
    seen = len(gemini.requests)
    launched, started = time.time(), time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.startup_probe", str(spec), str(out), *flags],
        cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"startup probe failed:\n{proc.stderr[-2000:]}")
    data = json.loads(out.read_text())
    parts, before, cpu_before = [], launched, 0.0
    for name, at, cpu in data["marks"]:
        parts.append((name, at - before, cpu - cpu_before))
        before, cpu_before = at, cpu
    first = min(r.started for r in gemini.requests[seen:]) - started
    return Timed(first, wall, parts, data["api_cpu"])


def _cli(ws: Workspace, gemini: FakeGeminiServer, spec: Path) -> Timed:
    seen = len(gemini.requests)
    run = run_cli(ws, "run", str(spec))
    check(run, "start-up (mediagen run)")
    first = min(r.started for r in gemini.requests[seen:]) - run.started_at
    return Timed(first, run.wall, [])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A ``prefect server`` of its own (its own home and database), healthy."""
    import httpx

    port = _free_port()
    home = root / "server-home"
    home.mkdir(parents=True, exist_ok=True)
    log = (root / "server.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-services"],
        env=env | {"PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("prefect server did not start in 300 s")


def _median(runs: list[Timed], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def _spec(ws: Workspace, name: str) -> Path:
    # A new spec name each time: never up to date, so every run makes its one image.
    return write_spec(ws.root / f"{name}.yaml", name, 1, size="64x64")


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    name = "7 start-up (1 image, no latency)"
    with FakeGeminiServer(image_side=64, max_side=64) as gemini:
        ws = Workspace.make(root, api_url)
        ws.gemini(gemini.base_url)
        check(run_cli(ws, "run", str(_spec(ws, "warm"))), "start-up warm-up")  # .pyc, Prefect DB
        probes, clis, directs, served = [], [], [], []
        for i in range(p.repeats):
            probes.append(_probe(ws, gemini, _spec(ws, f"probe-{i}")))
            clis.append(_cli(ws, gemini, _spec(ws, f"cli-{i}")))
            directs.append(_probe(ws, gemini, _spec(ws, f"direct-{i}"), "--direct"))
        if p.with_server and not api_url:
            proc, url = _server(root, ws.env)
            try:
                with_url = Workspace(ws.root, ws.env | {"PREFECT_API_URL": url})
                check(run_cli(with_url, "run", str(_spec(ws, "served-warm"))), "served warm-up")
                for i in range(p.repeats):
                    served.append(_cli(with_url, gemini, _spec(ws, f"served-{i}")))
            finally:
                os.killpg(proc.pid, 15)
                proc.wait(30)
    rows = []
    for step in range(len(probes[0].parts)):
        label = probes[0].parts[step][0]
        wall = statistics.median(r.parts[step][1] for r in probes)
        cpu = statistics.median(r.parts[step][2] for r in probes)
        rows.append(Row(name, f"part: {label}", f"{fmt_s(wall)} (CPU {cpu:.2f} s)"))
    rows += [
        Row(name, "part: the local API's own process (CPU, start and run)",
            f"CPU {_median(probes, 'api_cpu'):.2f} s"),
        Row(name, "parts one after another: launch → 1st request",
            fmt_s(_median(probes, "first_request"))),
        Row(name, "mediagen run: launch → 1st request", fmt_s(_median(clis, "first_request"))),
        Row(name, "mediagen run: end to end", fmt_s(_median(clis, "wall")), "≤ 3 s",
            _median(clis, "wall") <= 3),
        Row(name, "engine without Prefect: launch → 1st request",
            fmt_s(_median(directs, "first_request"))),
        Row(name, "engine without Prefect: end to end", fmt_s(_median(directs, "wall"))),
    ]  # fmt: skip
    if served:
        rows += [
            Row(name, "mediagen run, server running (PREFECT_API_URL): launch → 1st request",
                fmt_s(_median(served, "first_request"))),
            Row(name, "mediagen run, server running (PREFECT_API_URL): end to end",
                fmt_s(_median(served, "wall"))),
        ]  # fmt: skip
    return rows


__all__ = ["FULL", "TINY", "run"]
