"""What every benchmark shares: the CLI as a user runs it, specs, timing, peak RSS, rows.

Benchmarks drive the real ``mediagen`` CLI in a subprocess (``python -m
mediagen.cli.app``, this checkout first on ``PYTHONPATH``) against servers that run
in the benchmark's own process: the fake Gemini server (latency injected with
``Fault.slow``) and, for uploads, moto's S3. So the servers outlive a killed
run and their request counts are the ground truth.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
FAKE_KEY = "AIzaBENCH-not-a-real-key"
# One Prefect home for every run of a session: its database is created (and
# migrated, ~20 s here) once, by a warm-up run, as it is on a user's machine.
PREFECT_HOME = Path(os.environ.get("MEDIAGEN_BENCH_PREFECT_HOME", "/tmp/mediagen-bench-prefect"))


@dataclass
class Row:
    """One figure of the results table."""

    bench: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: reported, no target

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.ok]


@dataclass
class CliRun:
    wall: float
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    started_at: float  # time.monotonic() at launch
    killed_at: float | None = None  # time.monotonic() of the SIGKILL
    # The CLI and every process it started (local Prefect API, Dask workers), summed per sample.
    peak_tree_rss_mb: float = 0.0


@dataclass
class Workspace:
    """A user's folder: a local bucket, a scratch dir and a Prefect home of its own."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(
        cls, root: Path, api_url: str | None = None, prefect_home: Path | None = None, **env: str
    ) -> Workspace:
        root.mkdir(parents=True, exist_ok=True)
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GEMINI", "GOOGLE", "MEDIAGEN_", "PREFECT_", "AWS_"))
            # A user's Python caches compiled modules (pip compiles them at install): a
            # sandbox that forbids it would bill every run for compiling Prefect's server.
            and k != "PYTHONDONTWRITEBYTECODE"
        }
        base |= {
            "PYTHONPATH": str(REPO),
            "PREFECT_HOME": str(prefect_home or PREFECT_HOME),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            # The CLI's 90 s is not enough for the local API at load 30+ on 2 cores.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
            "MEDIAGEN_BUCKET_DIR": str(root / "bucket"),
            "MEDIAGEN_WORK_DIR": str(root / "work"),
            "MEDIAGEN_BACKEND": "offline",
            "MEDIAGEN_RETRY_BASE_DELAY": "0.05",
            "COLUMNS": "160",
        }
        if api_url:
            base["PREFECT_API_URL"] = api_url
        return cls(root, base | env)

    def gemini(self, base_url: str) -> None:
        """Point the gemini backend at the fake server."""
        self.env |= {
            "GEMINI_API_KEY": FAKE_KEY,
            "MEDIAGEN_BACKEND": "gemini",
            "MEDIAGEN_GEMINI_BASE_URL": base_url,
            "MEDIAGEN_GEMINI_TIMEOUT": "30",
            "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.05",
        }

    @contextmanager
    def environ(self) -> Iterator[None]:
        """This workspace's variables in this process (in-process measurements)."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def write_spec(
    path: Path,
    name: str,
    count: int,
    *,
    size: str = "64x64",
    formats: Sequence[str] = ("webp",),
    concurrency: int = 8,
    storage: dict[str, Any] | None = None,
    quality: str = "fast",
) -> Path:
    """A spec of ``count`` images from one template (a matrix over image numbers)."""
    spec: dict[str, Any] = {
        "name": name,
        "version": 1,
        "concurrency": concurrency,
        "max_images": max(count, 1),
        "defaults": {"size": size, "formats": list(formats), "quality": quality},
        "images": [
            {
                "id": "img-{n}",
                "prompt": "A calm picture of savings, number {n}",
                "matrix": {"n": list(range(count))},
            }
        ],
    }
    if storage:
        spec["storage"] = storage
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_cli(
    ws: Workspace,
    *args: str,
    timeout: float = 900,
    kill_when: Any = None,
) -> CliRun:
    """Run ``mediagen ARGS`` in ``ws``; wall time and the peak RSS of the CLI process.

    ``kill_when``: a callable polled every 20 ms; when it returns true the whole
    process group gets SIGKILL (``kill -9`` of the run, Prefect's server included).
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=ws.root,
        env=ws.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: a kill -9 takes its children too
    )
    peak = tree_peak = 0
    killed_at: float | None = None
    out: dict[str, str] = {}

    def drain() -> None:
        out["stdout"], out["stderr"] = proc.communicate()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        with suppress(psutil.Error):
            rss = ps.memory_info().rss
            peak = max(peak, rss)
            tree_peak = max(tree_peak, rss + _children_rss(ps))
        if kill_when is not None and killed_at is None and kill_when():
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = time.monotonic()
        if time.monotonic() - started > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            reader.join(10)
            raise TimeoutError(f"mediagen {' '.join(args)} took over {timeout:.0f} s")
        time.sleep(0.02)
    wall = time.monotonic() - started
    reader.join(30)
    if killed_at is not None:
        _reap_group(proc.pid)
    return CliRun(
        wall,
        proc.returncode,
        out.get("stdout", ""),
        out.get("stderr", ""),
        peak / 2**20,
        started,
        killed_at,
        tree_peak / 2**20,
    )


def _children_rss(ps: psutil.Process) -> int:
    total = 0
    for child in ps.children(recursive=True):
        with suppress(psutil.Error):
            total += child.memory_info().rss
    return total


def _reap_group(pgid: int) -> None:
    """Make sure nothing of a killed run's group is left (its Prefect server, workers)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def check(run: CliRun, what: str) -> None:
    if run.returncode != 0:
        tail = (run.stderr or run.stdout)[-2000:]
        raise RuntimeError(f"{what}: mediagen exited {run.returncode}\n{tail}")


def machine() -> dict[str, str]:
    """Where the figures come from: CPU, cores, memory, load."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    import PIL
    import prefect

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "load": " ".join(f"{x:.2f}" for x in load),
        "python": sys.version.split()[0],
        "prefect": prefect.__version__,
        "pillow": PIL.__version__,
    }


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children and theirs: the
    delta around one run is that run's CPU, whatever else loads the machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"
