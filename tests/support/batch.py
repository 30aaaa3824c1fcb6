"""Fixtures for batch delivery: the local Batch API server (with its Gemini server behind it)
and an environment pointing the gemini backend at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediagen.testing.batch_server import FakeBatchServer
from tests.support.gemini import TEST_KEY, point_gemini_at


@pytest.fixture
def batch_server() -> Iterator[FakeBatchServer]:
    """Jobs stay PENDING 0.3 s and RUNNING 0.2 s unless a test changes ``pending_s``."""
    with FakeBatchServer(
        api_key=TEST_KEY, pending_s=0.3, running_s=0.2, image_side=128, max_side=256
    ) as server:
        yield server


@pytest.fixture
def batch_env(
    workspace: Path, batch_server: FakeBatchServer, monkeypatch: pytest.MonkeyPatch
) -> FakeBatchServer:
    """The workspace, with the gemini backend (sync and batch) pointed at the batch server."""
    point_gemini_at(monkeypatch, batch_server.base_url, timeout=5)
    return batch_server
