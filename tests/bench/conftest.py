"""The benchmark smoke test is opt-in: left out of the run (deselected, not skipped)
unless selected with ``-m bench`` or in CI (``.ci/run`` sets ``MEDIAGEN_BENCH_SMOKE=1``).

Deselected before any fixture starts, so a plain ``pytest`` starts no Prefect server for it.
"""

from __future__ import annotations

import os
import re

import pytest


def selected(config: pytest.Config) -> bool:
    """True when the marker expression names ``bench`` (``-m bench``), or in CI."""
    if os.environ.get("MEDIAGEN_BENCH_SMOKE") == "1":
        return True
    return bool(re.search(r"\bbench\b", config.getoption("markexpr") or ""))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if selected(config):
        return
    left_out = [item for item in items if item.get_closest_marker("bench")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("bench")]
