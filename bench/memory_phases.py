"""Where a run's peak memory is: per process (the CLI, its local Prefect API) and per phase.

``python -m bench.memory_phases 10000``: one real ``mediagen run`` of N thumbnails
(160×160 WebP, offline renderer, concurrency 8, its own temporary local API), as
benchmark 3 runs it (``bench/memory.py``), but in a process that marks the phases of
the run (fan-out, manifest write, gallery, artifacts, the CLI's summary) and samples
its own RSS and its children's every 20 ms. Prints the peak of each, per phase.
Benchmark 3 gives the figure; this says which part of the run makes it.
"""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil

from bench.harness import Workspace, write_spec

# (module, function): the phases, in the order a run reaches them.
PHASES = (
    ("flows.fanout", "run_batches"),
    ("flows.generate_media", "finalize"),
    ("mediagen.engine.finalize", "commit_manifest"),
    ("mediagen.manifest.commit", "manifest_bytes"),
    ("mediagen.engine.finalize", "write_gallery"),
    ("flows.generate_media", "publish_run_artifacts"),
    ("mediagen.cli.run", "print_summary"),
)


def _child(args: list[str]) -> None:
    """``mediagen ARGS`` in this process, phases marked, peaks printed to stderr."""
    me = psutil.Process()
    phase = ["start"]
    peaks: dict[str, list[int]] = {}

    def take() -> None:
        with suppress(psutil.Error):
            cli = me.memory_info().rss
            api = 0
            for child in me.children(recursive=True):
                with suppress(psutil.Error):
                    api += child.memory_info().rss
            peak = peaks.setdefault(phase[0], [0, 0, 0])
            peak[:] = max(peak[0], cli), max(peak[1], api), max(peak[2], cli + api)

    def sample() -> None:
        while True:
            take()
            time.sleep(0.02)

    def mark(module_name: str, name: str) -> None:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        @functools.wraps(original)
        def marked(*a: Any, **k: Any) -> Any:
            phase[0] = name
            take()  # a phase shorter than a sampling period is still seen
            try:
                return original(*a, **k)
            finally:
                take()
                phase[0] = f"after {name}"

        setattr(module, name, marked)

    for module_name, name in PHASES:
        mark(module_name, name)
    threading.Thread(target=sample, daemon=True).start()
    from mediagen.cli.app import app

    try:
        app(args, standalone_mode=False)
    finally:
        print(f"{'phase':32s} {'CLI':>8s} {'children':>9s} {'tree':>8s}", file=sys.stderr)
        for name, (cli, api, tree) in peaks.items():
            print(f"{name:32s} {cli >> 20:5d} MB {api >> 20:6d} MB {tree >> 20:5d} MB",
                  file=sys.stderr)  # fmt: skip


def main(count: int, root: Path | None = None) -> str:
    """Run it; the report (the peaks per phase, the exit code, the load)."""
    root = root or Path(tempfile.mkdtemp(prefix=f"mediagen-phases-{count}-"))
    ws = Workspace.make(root)
    spec = write_spec(root / "memory.yaml", "memory", count, size="160x160",
                      formats=("webp",), quality="standard")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_phases", "--child", "run", str(spec),
         "--concurrency", "8"],
        cwd=root, env=ws.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    load = " ".join(f"{x:.2f}" for x in psutil.getloadavg())
    return f"{done.stderr[-3000:]}\nexit {done.returncode}; load {load}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2:])
    else:
        print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
