"""The fault schedule of mediagen.testing.s3: scripted, reproducible, capped."""

from __future__ import annotations

import random

from mediagen.testing.s3 import INTERNAL_ERROR, RESET, SLOWDOWN, FaultSchedule, slow


def test_script_comes_first_then_nothing() -> None:
    schedule = FaultSchedule([SLOWDOWN, None, slow(0.1)], methods=["PUT"])
    got = [schedule.decide("PUT", "/b/k") for _ in range(5)]
    assert got == [SLOWDOWN, None, slow(0.1), None, None]
    assert schedule.decide("GET", "/b/k") is None  # other methods are not counted
    assert schedule.matched == 5 and schedule.injected == {"SlowDown": 1, "slow": 1}


def test_rate_draws_are_the_same_whatever_the_request_order() -> None:
    paths = [f"/b/key-{i}" for i in range(200)]

    def run(order: list[str]) -> dict[str, list[str | None]]:
        schedule = FaultSchedule(rate=0.3, seed=5, kinds=[SLOWDOWN, INTERNAL_ERROR, RESET])
        seen: dict[str, list[str | None]] = {}
        for path in order:
            for _ in range(3):
                fault = schedule.decide("PUT", path)
                seen.setdefault(path, []).append(fault.label if fault else None)
        return seen

    shuffled = paths[:]
    random.Random(1).shuffle(shuffled)
    first = run(paths)
    assert first == run(shuffled)
    rate = sum(f is not None for v in first.values() for f in v) / (3 * len(paths))
    assert 0.2 < rate < 0.4


def test_no_more_than_max_in_a_row_per_path() -> None:
    schedule = FaultSchedule(rate=1.0, max_in_a_row=2)
    got = [schedule.decide("PUT", "/b/k") for _ in range(6)]
    assert [g is not None for g in got] == [True, True, False, True, True, False]
