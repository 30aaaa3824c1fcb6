"""Debian's headless Chromium, started the way this machine needs (see .ci/run)."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@contextlib.contextmanager
def serve_folder(root: Path, hold: tuple[str, ...] = ()) -> Iterator[str]:
    """Serve ``root`` over HTTP on a free loopback port; yields the base URL.

    Requests for paths ending in one of ``hold`` wait (at most 60 s) until a request
    for ``/release`` or the server stops, so a page can be looked at while its images
    are still loading (Chromium's virtual time stands still while they are pending).
    """
    release = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/release":
                release.set()
                self.send_response(204)
                self.end_headers()
                return
            if hold and path.endswith(hold):
                release.wait(60)
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
