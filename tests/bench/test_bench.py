"""Smoke test of the benchmark suite: every benchmark, at a tiny size, so none can rot.

Timings at this size mean nothing and are not checked; the behaviour the
benchmarks count is (backend calls, objects written, images published, the
same manifest from both runners). The CLI runs report to the session's Prefect
API, so no run pays Prefect's start-up.

Opt-in (marker ``bench``): it starts dozens of CLI processes, ~1 min on a quiet
machine but many more on a loaded one, where it once hung to its timeout and
held every other submission up. Run it with ``python -m pytest -m bench``.
CI runs it in its one pytest run (``.ci/run`` sets ``MEDIAGEN_BENCH_SMOKE=1``),
so a benchmark that rots turns CI red.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bench.__main__ import markdown, run_suite
from bench.harness import machine


def selected(config: pytest.Config) -> bool:
    """True when the marker expression names ``bench`` (``-m bench``), or in CI."""
    if os.environ.get("MEDIAGEN_BENCH_SMOKE") == "1":
        return True
    return bool(re.search(r"\bbench\b", config.getoption("markexpr") or ""))


# A condition string, so it is decided before any fixture (the Prefect server) starts.
pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(
        "not selected(config)", reason="benchmark smoke test (opt-in): python -m pytest -m bench"
    ),
]


@pytest.mark.timeout(540)  # ~1 min on a quiet machine; 3 at load 10
@pytest.mark.usefixtures("prefect_server")
def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    only = {"1", "2", "3", "4", "5", "7", "8", "c2pa"}  # 9 and 10: the next test
    rows, seconds = run_suite(
        tiny=True, only=only, api_url=PREFECT_API_URL.value(), workdir=tmp_path
    )

    assert set(seconds) == only
    benches = {row.bench.split()[0] for row in rows}
    assert benches == {"1", "2", "3", "4", "5", "6", "7", "8", "c2pa"}
    behaviour = [
        row
        for row in rows
        if row.metric in ("backend calls", "objects written", "says 'up to date'", "re-run")
        or row.metric.startswith(
            ("images published", "same manifest", "backend calls per", "avoidable duplicate")
        )
    ]
    assert len(behaviour) == 12  # 8: the same manifest from both runners, per workload
    failed = [row for row in behaviour if not row.ok]
    assert not failed, failed
    report = markdown(rows, machine(), "python -m bench --tiny", sum(seconds.values()))
    assert "| 6 scale-out" in report


@pytest.mark.timeout(540)
@pytest.mark.usefixtures("prefect_server")
def test_the_side_by_side_benchmarks_run_at_tiny_size(tmp_path: Path) -> None:
    """9: mediagen vs the hand-written peer; 10: the mappings of images onto task runs."""
    from prefect.settings import PREFECT_API_URL

    rows, seconds = run_suite(
        tiny=True, only={"9", "10"}, api_url=PREFECT_API_URL.value(), workdir=tmp_path
    )
    assert set(seconds) == {"9", "10"}
    counted = [row for row in rows if row.metric.startswith(("requests", "thumbnails"))]
    assert len(counted) == 2  # 9: both sides asked once per image and wrote every file
    mappings = [row for row in rows if row.bench.startswith("10 ") and row.target]
    assert len(mappings) == 5  # before, 1 per task run, auto, 3 per task run, async
    failed = [row for row in counted + mappings if not row.ok]
    assert not failed, failed
