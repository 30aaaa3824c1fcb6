"""Debian's headless Chromium, started the way this machine needs (see .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The network is closed: without these, Chromium keeps trying to reach out.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # Let the page and its (lazy) images load before the picture is taken.
    "--virtual-time-budget=5000",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed: .ci/run installs Debian's 'chromium' package"
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )


def screenshot(url: str, out: Path, width: int = 1280, height: int = 900) -> Path:
    result = _run(f"--window-size={width},{height}", f"--screenshot={out}", url)
    assert out.is_file(), f"no screenshot from chromium:\n{result.stderr[-2000:]}"
    return out


def dump_dom(url: str) -> str:
    """The page's DOM after load, as Chromium serialises it."""
    result = _run("--dump-dom", url)
    assert result.stdout.strip(), f"no DOM from chromium:\n{result.stderr[-2000:]}"
    return result.stdout
