"""Serve a local test server's ``ThreadingHTTPServer`` on a daemon thread, and stop it.

The local Gemini and Batch API servers both run this way; one place says how."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer


def serve(httpd: ThreadingHTTPServer, name: str) -> threading.Thread:
    """Start answering on a daemon thread (polling for shutdown every 50 ms)."""
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return thread


def shut_down(httpd: ThreadingHTTPServer, thread: threading.Thread | None) -> None:
    """Stop the thread (if it was started) and close the listening socket."""
    if thread is not None:
        httpd.shutdown()
        thread.join(timeout=5)
    httpd.server_close()


__all__ = ["serve", "shut_down"]
