"""Smoke test of the benchmark suite: every benchmark, at a tiny size, so none can rot.

Timings at this size mean nothing and are not checked; the behaviour the
benchmarks count is (backend calls, objects written, images published, the
same manifest from both runners). The CLI runs report to the session's Prefect
API, so no run pays Prefect's start-up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import markdown, run_suite
from bench.harness import machine


@pytest.mark.timeout(540)  # ~1 min on a quiet machine; 3 at load 10
@pytest.mark.usefixtures("prefect_server")
def test_every_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    rows, seconds = run_suite(tiny=True, api_url=PREFECT_API_URL.value(), workdir=tmp_path)

    assert set(seconds) == {"1", "2", "3", "4", "5"}
    benches = {row.bench.split()[0] for row in rows}
    assert benches == {"1", "2", "3", "4", "5", "6"}
    behaviour = [
        row
        for row in rows
        if row.metric in ("backend calls", "objects written", "says 'up to date'", "re-run")
        or row.metric.startswith(
            ("images published", "same manifest", "backend calls per", "avoidable duplicate")
        )
    ]
    assert len(behaviour) == 10
    failed = [row for row in behaviour if not row.ok]
    assert not failed, failed
    report = markdown(rows, machine(), "python -m bench --tiny", sum(seconds.values()))
    assert "| 6 scale-out" in report
