"""The steps of ``mediagen run`` one after another, each timed (run by :mod:`bench.startup`).

``python -m bench.startup_probe SPEC OUT.json`` does what the CLI does for a spec,
in the CLI's order, with the CLI's own functions, and writes a mark after each
step: wall clock (``time.time()``, comparable with the launching process) and
this process's CPU seconds. The local Prefect API's own CPU is read from its
process before it stops. Nothing here is a second implementation: each step is
one call into the code ``mediagen run`` calls.
"""

from __future__ import annotations

import time

MARKS: list[tuple[str, float, float]] = [("interpreter up", time.time(), time.process_time())]

import json  # noqa: E402
import sys  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from pathlib import Path  # noqa: E402


def mark(name: str) -> None:
    MARKS.append((name, time.time(), time.process_time()))


def direct(spec_path: str, out: str) -> None:
    """The same spec through the engine alone (no Prefect): the floor of a run's start-up."""
    import mediagen.cli.app  # noqa: F401

    mark("import mediagen CLI")
    from mediagen.cli.planning import load, plan_spec
    from mediagen.engine import orchestrate
    from mediagen.engine.context import RunContext
    from mediagen.settings import get_settings

    spec = load(Path(spec_path))
    plan, _bucket, previous = plan_spec(spec)
    mark("load spec and plan")
    ctx = RunContext.for_spec(spec, get_settings(), run_id="startup-direct")
    with ctx.new_run() as run:
        orchestrate.run_spec(plan, ctx, run, previous, workers=4)
    mark("images made, manifest written")
    Path(out).write_text(json.dumps({"marks": MARKS, "api_cpu": 0.0}))


def main(spec_path: str, out: str) -> None:
    import os

    import mediagen.cli.app  # noqa: F401  (what `mediagen` imports before any command)

    # as the CLI's callback does (mediagen/cli/app.py)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

    mark("import mediagen CLI")
    from mediagen.cli.planning import ensure_bucket, load, plan_spec
    from mediagen.plan.jobs import prefix_of
    from mediagen.settings import get_settings
    from mediagen.storage.bucket import Bucket
    from mediagen.storage.lease import one_run_per_spec

    spec = load(Path(spec_path))
    mark("load spec")
    with ExitStack() as stack:
        bucket = Bucket(ensure_bucket(spec))
        stack.enter_context(one_run_per_spec(bucket, prefix_of(spec), spec=spec.name))
        mark("take the lease")
        plan, _bucket, previous = plan_spec(spec)
        mark("plan (expand, keys, read manifest)")
        from flows.local_api import local_api
        from flows.plan_handoff import Planned
        from flows.run import run_flow

        mark("import Prefect and flows")
        api_cpu = 0.0
        with local_api() as url:
            mark("local Prefect API up")
            planned = Planned(spec.content_hash(), get_settings(), plan, previous)
            run_flow(spec, planned=planned)
            mark("flow run done")
            api_cpu = _api_cpu(url)
    mark("API stopped, lease released")
    Path(out).write_text(json.dumps({"marks": MARKS, "api_cpu": api_cpu}))


def _api_cpu(url: str | None) -> float:
    """CPU seconds the local API's process has used so far (0 if none of ours)."""
    if not url:
        return 0.0
    import psutil

    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    for child in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr and c.laddr.port == port for c in child.net_connections("inet")):
                times = child.cpu_times()
                return float(times.user + times.system)
        except psutil.Error:
            continue
    return 0.0


if __name__ == "__main__":
    (direct if sys.argv[3:] == ["--direct"] else main)(sys.argv[1], sys.argv[2])
