"""Shared fixtures: an isolated bucket and work dir per test, a Prefect test server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from mediagen import backends, pipeline
from tests.support.backends import CountingBackend

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.support.gemini"]  # fake Gemini server fixtures


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real (temporary) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean folder with its own bucket and scratch dir, offline, no keys in sight."""
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MEDIAGEN_BUCKET_DIR", str(tmp_path / "bucket"))
    monkeypatch.setenv("MEDIAGEN_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("MEDIAGEN_BACKEND", "offline")
    monkeypatch.setenv("MEDIAGEN_RETRY_BASE_DELAY", "0.01")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(
        backends.BUILTIN_BACKENDS, "counting", "tests.support.backends:CountingBackend"
    )
    CountingBackend.reset()
    pipeline.reset_clients()
    yield tmp_path
    pipeline.reset_clients()


@pytest.fixture
def counting() -> type[CountingBackend]:
    return CountingBackend
