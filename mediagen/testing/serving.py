"""Make a local test server's ``ThreadingHTTPServer``, serve it on a daemon thread, and
stop it.

The local Gemini and Batch API servers both run this way; one place says how."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _HTTPServer(ThreadingHTTPServer):
    # socketserver's default backlog is 5: 64 clients connecting at once on a busy machine
    # (bench/versus_peer.py) saw resets and 1 s SYN retransmits that no real API adds.
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False


def http_server(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded server on ``host`` and a free port (not yet serving: :func:`serve`)."""
    return _HTTPServer((host, 0), handler)


def base_url(httpd: ThreadingHTTPServer) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}"


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


__all__ = ["base_url", "http_server", "serve", "shut_down"]
