"""Quoted parameters: Prefect passes them through unvisited, and they survive pickling.

The real Prefect engine (the session's test API). The walk is observed, not timed: a
dataclass that counts reads of its field, the way ``visit_collection`` reads every
field of every job it is handed.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import cloudpickle
import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.quoting import Quoted, quoted

READS: list[str] = []


@dataclass
class Job:
    prompt: str

    def __getattribute__(self, name: str) -> Any:
        if name == "prompt":
            READS.append(name)
        return object.__getattribute__(self, name)


@task(cache_policy=NO_CACHE)  # as flows/image_tasks.py: no input hashing
def first_read(jobs: list[Job]) -> int:
    """How many times the jobs' fields were read before this task looked at them."""
    return len(READS)


@flow
def hand_over(quote_them: bool) -> int:
    jobs = [Job(f"a calm lake {n}") for n in range(5)]
    READS.clear()
    return first_read.submit(quoted(jobs) if quote_them else jobs).result()


@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize(("quote_them", "walked"), [(False, True), (True, False)])
def test_prefect_walks_plain_parameters_but_not_quoted_ones(quote_them: bool, walked: bool) -> None:
    reads_before_the_task = hand_over(quote_them)
    assert (reads_before_the_task > 0) is walked


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps])
def test_a_quoted_value_pickles_as_itself(dumps: Any) -> None:
    # Prefect's quote comes back from pickle as quote((value,)): a Dask worker's task
    # would get a 1-tuple (found by tests/flows/test_dask_runner.py).
    value = {"jobs": [1, 2, 3]}
    back = pickle.loads(dumps(quoted(value)))
    assert isinstance(back, Quoted)
    assert back.unwrap() == value
