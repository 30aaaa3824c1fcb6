"""The CLI as a user runs it, recorded on the session's Prefect server (no ephemeral API
to start per command: each command is a few seconds, not a minute, on a busy machine)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import mediagen

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(prefect_server: None, tmp_path: Path) -> Cli:
    from prefect.settings import PREFECT_API_URL

    def run(*args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
        env = {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
        result = mediagen(tmp_path, *args, env=env)
        if code is not None:
            assert result.returncode == code, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result

    return run
