"""The run's backend slots: ``concurrency`` calls at once, and a slot given back when a
call's answer arrives, before it is read and parsed (``Run.answered``).

No timing: a second thread's non-blocking acquire tells whether a slot is free.
"""

from __future__ import annotations

import threading

from mediagen.engine.run import Run
from mediagen.settings import Settings


def _free_slots(run: Run) -> int:
    """How many slots another thread can take right now (given back at once)."""
    taken: list[bool] = []

    def probe() -> None:
        got = []
        while run._backend_slots.acquire(blocking=False):
            got.append(True)
        for _ in got:
            run._backend_slots.release()
        taken.extend(got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return len(taken)


def test_an_answered_call_gives_its_slot_back_once() -> None:
    run = Run(Settings(), concurrency=2)
    with run.backend_slot():
        assert _free_slots(run) == 1
        run.answered()  # the answer's headers arrived: the next image may call
        assert _free_slots(run) == 2
        run.answered()  # once only
        assert _free_slots(run) == 2
    assert _free_slots(run) == 2  # the block's end does not give it back twice


def test_a_further_request_of_the_same_call_takes_a_slot_again() -> None:
    run = Run(Settings(), concurrency=1)
    with run.backend_slot():
        run.answered()
        assert _free_slots(run) == 1
        with run.slot("some-model"):  # e.g. a retry after an answer the backend refused
            assert _free_slots(run) == 0
        assert _free_slots(run) == 0  # held until answered or the call's end
    assert _free_slots(run) == 1


def test_answered_outside_a_backend_call_changes_nothing() -> None:
    run = Run(Settings(), concurrency=1)
    run.answered()  # e.g. the describing model's request, made while processing
    with run.slot("some-model"):
        assert _free_slots(run) == 1
    assert _free_slots(run) == 1


def test_with_a_budget_the_slot_waits_for_the_real_cost() -> None:
    # The next call is checked against what this one really cost (a fallback model may
    # cost more than the estimate it reserved): its slot goes back at the call's end.
    run = Run(Settings(), concurrency=1, budget_usd=1.0)
    with run.backend_slot():
        run.answered()
        assert _free_slots(run) == 0
    assert _free_slots(run) == 1
