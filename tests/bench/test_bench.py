"""Smoke test of the benchmark suite: every benchmark, at a tiny size, so none can rot.

Timings at this size mean nothing and are not checked; the behaviour the
benchmarks count is (backend calls, objects written, images published, the
same manifest from both runners). The CLI runs report to the session's Prefect
API, so no run pays Prefect's start-up.

Opt-in (marker ``bench``; ``conftest.py`` deselects it otherwise): it starts dozens
of CLI processes, ~1 min on a quiet machine but many more on a loaded one, where it
once hung to its timeout and held every other submission up. Run it with
``python -m pytest -m bench``.
CI runs it in its one pytest run (``.ci/run`` sets ``MEDIAGEN_BENCH_SMOKE=1``),
so a benchmark that rots turns CI red.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import mapping
from bench.__main__ import markdown, run_suite
from bench.harness import machine

# Left out of a plain run unless selected (tests/bench/conftest.py).
pytestmark = pytest.mark.bench


# Benchmarks in groups, so that `pytest -n 2` runs them side by side: (numbers to run, the
# benchmarks their rows name, how many behaviour rows they give). 6 is benchmark 1's Dask
# run; 9 and 10 are the next test's.
GROUPS = [
    ({"1", "2", "3"}, {"1", "6", "2", "3"}, 6),  # 1: calls, dask calls + same manifest; 2: three
    ({"4", "5"}, {"4", "5"}, 4),  # 5: re-run, published, calls per image, duplicates
    ({"7", "8", "c2pa"}, {"7", "8", "c2pa"}, 2),  # 8: the same manifest, per workload
]


@pytest.mark.timeout(540)  # ~1 min on a quiet machine; 3 at load 10
@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(("only", "named", "behaviours"), GROUPS, ids=lambda v: "-".join(
    sorted(v)) if isinstance(v, set) else str(v))  # fmt: skip
def test_every_benchmark_runs_at_tiny_size(
    tmp_path: Path, only: set[str], named: set[str], behaviours: int
) -> None:
    from prefect.settings import PREFECT_API_URL

    rows, seconds = run_suite(
        tiny=True, only=only, api_url=PREFECT_API_URL.value(), workdir=tmp_path
    )

    assert set(seconds) == only
    assert {row.bench.split()[0] for row in rows} == named
    behaviour = [
        row
        for row in rows
        if row.metric in ("backend calls", "objects written", "says 'up to date'", "re-run")
        or row.metric.startswith(
            ("images published", "same manifest", "backend calls per", "avoidable duplicate")
        )
    ]
    assert len(behaviour) == behaviours
    failed = [row for row in behaviour if not row.ok]
    assert not failed, failed
    report = markdown(rows, machine(), "python -m bench --tiny", sum(seconds.values()))
    assert ("| 6 scale-out" in report) == ("1" in only)


def test_the_groups_run_every_benchmark_of_the_suite() -> None:
    from bench.__main__ import suite

    ran = set().union(*(only for only, _, _ in GROUPS)) | {"9", "10"}
    assert ran == set(suite(tiny=True, api_url=None))


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
    # before (when this checkout has its commit), 1 per task run, auto, 3 per task run, async
    assert len(mappings) == 4 + mapping.baseline_available()
    failed = [row for row in counted + mappings if not row.ok]
    assert not failed, failed


@pytest.mark.timeout(300)
def test_memory_phases_names_where_the_peak_is(tmp_path: Path) -> None:
    """bench/memory_phases.py: a real run (its own local API), each phase's peaks."""
    from bench import memory_phases

    report = memory_phases.main(4, tmp_path)
    assert "exit 0;" in report
    rows = {line.split()[0]: line for line in report.splitlines() if " MB " in line}
    assert {"start", "run_batches", "print_summary"} <= set(rows)
    # the local API's process is measured apart from the CLI's while the images are made
    assert int(rows["run_batches"].split()[3]) > 0
