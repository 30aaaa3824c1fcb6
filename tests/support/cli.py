"""Running the ``mediagen`` command as a user does: a subprocess in a folder of theirs.

Plain helpers (no fixtures): the folders they run in come from fixtures in
``conftest.py`` files. Two environments:
- ``mediagen``: the user's shell minus any Gemini key; the command starts its own
  temporary Prefect API unless ``env`` names one;
- ``mediagen_on_server``: no mediagen, Gemini or Prefect-logging settings from the
  caller at all, recorded on the session's Prefect API (the ``prefect_server`` fixture).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mediagen.testing import FakeGeminiServer
from tests.support.gemini import TEST_KEY
from tests.support.paths import REPO

# The name of the dist-info folder that installs the counting backend as a plugin.
PLUGIN_DIST = "mediagen_test_plugin-0.0.0.dist-info"
CLI_TIMEOUT = 240  # did-not-hang bound for one command on a loaded machine


def install_counting_plugin(folder: Path) -> None:
    """Make ``backend: counting`` findable through the ``mediagen.backends`` entry points
    of a subprocess whose PYTHONPATH includes ``folder / "plugins"``."""
    dist = folder / "plugins" / PLUGIN_DIST
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: mediagen-test-plugin\nVersion: 0.0.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[mediagen.backends]\ncounting = tests.support.backends:CountingBackend\n"
    )


def mediagen(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
    full_env |= {
        "PYTHONPATH": f"{cwd / 'plugins'}{os.pathsep}{REPO}",
        "PREFECT_HOME": str(cwd / ".prefect"),
        "MEDIAGEN_RETRY_BASE_DELAY": "0.01",
        "COLUMNS": "200",
    }
    full_env.pop("MEDIAGEN_BACKEND", None)
    full_env |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip


def mediagen_on_server(
    cwd: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The command with only ``env``'s mediagen and Gemini settings, on the session's API."""
    from prefect.settings import PREFECT_API_URL

    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_LOGGING")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    full_env |= {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the test session's Prefect server
        "COLUMNS": "200",
        "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.02",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip


def user_env(server: FakeGeminiServer, key: str = TEST_KEY) -> dict[str, str]:
    """A user's Gemini settings, pointed at the local Gemini server."""
    return {"GEMINI_API_KEY": key, "MEDIAGEN_GEMINI_BASE_URL": server.base_url}
