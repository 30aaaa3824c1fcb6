"""Shared fixtures: an isolated bucket and work dir per test, a Prefect test server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from mediagen import backends
from mediagen.testing.s3 import S3TestServer
from tests.support.backends import CountingBackend
from tests.support.paths import REPO as REPO  # re-exported: many tests import it from here
from tests.support.s3 import AWS_KEY, AWS_SECRET, S3_BUCKET, STORAGE_ENV

# Fixture modules shared across test folders: the fake Gemini server; one real Prefect
# server, deployments and worker (session); a slow run stopped by a signal or a Cancel;
# the candidates' seed-painting backend.
pytest_plugins = [
    "tests.support.gemini",
    "tests.support.prefect_server",
    "tests.support.interrupted_run",
    "tests.support.candidates",
]


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real (temporary) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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
    # Nothing to reset: every run (flow, client, test) builds its own Run.
    return tmp_path


@pytest.fixture
def counting() -> type[CountingBackend]:
    return CountingBackend


# -- S3 (moto's real HTTP server on loopback, behind the fault injector) ------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    """One moto S3 server (ThreadedMotoServer, 127.0.0.1, a free port) for the session."""
    with S3TestServer() as server:
        yield server


@pytest.fixture
def s3(
    s3_server: S3TestServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[S3TestServer]:
    """An empty S3 with bucket ``media-test``, fake AWS keys in the env, fast retries."""
    s3_server.reset()
    for name in STORAGE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(workspace / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(workspace / "no-aws-credentials"))
    monkeypatch.setenv("MEDIAGEN_STORAGE_RETRY_BASE_DELAY", "0.01")
    s3_server.create_bucket(S3_BUCKET)
    s3_server.requests.clear()
    s3_server.statuses.clear()
    s3_server.access_keys.clear()
    yield s3_server
    s3_server.faults = None
