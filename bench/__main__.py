"""``python -m bench``: run the benchmark suite, print a table, write bench/RESULTS.md.

Options: ``--tiny`` (every benchmark at a tiny size: the smoke test's mode),
``--only 1,3`` (benchmark numbers), ``--out FILE`` (default bench/RESULTS.md;
``-`` writes nothing). Benchmark 6 is part of 1 (same manifest, other runner); 7 is
mediagen vs the hand-written peer (bench/versus_peer.py), 8 the mappings of images onto
task runs (bench/mapping.py); both also run alone, with ``--quick``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import (
    c2pa_signing,
    dask_vs_threads,
    duplicates,
    mapping,
    memory,
    noop,
    processing,
    startup,
    throughput,
    versus_peer,
)
from bench.harness import PREFECT_HOME, REPO, Row, Workspace, machine, run_cli, write_spec

NOTES = Path(__file__).with_name("notes.md")


def suite(tiny: bool, api_url: str | None) -> dict[str, Callable[[Path], list[Row]]]:
    size = "TINY" if tiny else "FULL"
    return {
        "1": lambda root: throughput.run(root, getattr(throughput, size), api_url, dask=True),
        "2": lambda root: noop.run(root, getattr(noop, size), api_url),
        "3": lambda root: memory.run(root, getattr(memory, size), api_url),
        "4": lambda root: processing.run(root, getattr(processing, size), api_url),
        "5": lambda root: duplicates.run(root, getattr(duplicates, size), api_url),
        "c2pa": lambda root: c2pa_signing.run(root, getattr(c2pa_signing, size), api_url),
        "7": lambda root: startup.run(root, getattr(startup, size), api_url),
        "8": lambda root: dask_vs_threads.run(root, getattr(dask_vs_threads, size), api_url),
        "9": lambda root: versus_peer.run(root, getattr(versus_peer, size), api_url),
        "10": lambda root: mapping.run(root, getattr(mapping, size), api_url),
    }


def warm_up(root: Path, api_url: str | None) -> None:
    """One small run first: Prefect creates and migrates its database once, untimed."""
    ws = Workspace.make(root, api_url)
    run_cli(ws, "run", str(write_spec(root / "warm.yaml", "warm", 1)))


def standalone(
    prog: str,
    doc: str | None,
    run: Callable[..., list[Row]],
    sizes: tuple[object, object, object],
    quick_help: str,
) -> None:
    """``python -m bench.NAME [--quick|--tiny]``: one benchmark after a warm-up run, its rows
    printed as they come, then the load before and after. ``sizes``: (full, quick, tiny)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--tiny", action="store_true", help="smoke test")
    args = parser.parse_args()
    full, quick, tiny = sizes
    params = tiny if args.tiny else quick if args.quick else full
    root = Path(tempfile.mkdtemp(prefix=f"mediagen-{prog.rsplit('.', 1)[-1]}-"))
    warm_up(root / "warm-up", None)
    before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for row in run(root, params, progress=True):
        print(f"{row.bench} | {row.metric} | {row.value} | {row.target} {row.verdict}", flush=True)
    after = os.getloadavg()
    print(f"started {started}; 1/5/15-min load {' '.join(f'{x:.2f}' for x in before)} before, "
          f"{' '.join(f'{x:.2f}' for x in after)} after (2 cores)")  # fmt: skip


def run_suite(
    tiny: bool = False,
    only: set[str] | None = None,
    api_url: str | None = None,
    workdir: Path | None = None,
    progress: bool = False,
) -> tuple[list[Row], dict[str, float]]:
    root = Path(workdir or tempfile.mkdtemp(prefix="mediagen-bench-"))
    seconds: dict[str, float] = {}
    rows: list[Row] = []
    try:
        if not api_url:
            warm_up(root / "warm-up", api_url)
        for number, bench in suite(tiny, api_url).items():
            if only and number not in only:
                continue
            started = time.monotonic()
            new = bench(root / f"bench-{number}")
            seconds[number] = time.monotonic() - started
            if progress:
                for row in new:
                    print(f"  {row.bench} | {row.metric}: {row.value} {row.target} {row.verdict}")
                print(f"benchmark {number}: {seconds[number]:.0f} s", flush=True)
            rows += new
    finally:
        if workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return rows, seconds


def table(rows: list[Row]) -> Table:
    out = Table(title="mediagen benchmarks")
    for column in ("benchmark", "metric", "value", "target", ""):
        out.add_column(column)
    for row in rows:
        style = {True: "green", False: "bold red", None: ""}[row.ok]
        out.add_row(row.bench, row.metric, row.value, row.target, row.verdict, style=style)
    return out


def markdown(rows: list[Row], info: dict[str, str], command: str, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` (took {seconds / 60:.1f} min).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "| benchmark | metric | value | target | |",
        "|---|---|---|---|---|",
        *(f"| {r.bench} | {r.metric} | {r.value} | {r.target} | {r.verdict} |" for r in rows),
        "",
    ]
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers")
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    args = parser.parse_args()
    only = {x.strip() for x in args.only.split(",") if x.strip()} or None
    load_before = os.getloadavg()
    started = time.monotonic()
    rows, _ = run_suite(args.tiny, only, os.environ.get("PREFECT_API_URL"), progress=True)
    elapsed = time.monotonic() - started
    Console(width=170).print(table(rows))
    info = machine()
    info["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    # Only the figures say how busy the machine was: ratios need load < 2 before the run
    # (issue 15); the benchmark's own processes raise it while they run.
    busy = load_before[0] >= 2
    info["load"] = (
        f"1/5/15-min load {' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{info['load']} after (2 cores; {'a loaded' if busy else 'a quiet'} machine)"
    )
    info["prefect home"] = f"{PREFECT_HOME} (warm: created by an untimed warm-up run)"
    if args.out != "-":
        command = "python -m bench" + (" --tiny" if args.tiny else "")
        if only:
            command += f" --only {args.only}"
        Path(args.out).write_text(markdown(rows, info, command, elapsed))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
