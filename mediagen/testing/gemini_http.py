"""The HTTP side of the local Gemini server: one request in, one answer out.

Kept apart from :mod:`mediagen.testing.gemini_server` (what to answer): this
module only parses the route, the key and the JSON body, records the request
and writes the answer (JSON, or an HTML error page), keeping connections alive
like the real API.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from mediagen.testing.gemini_faults import Fault, error_answer
from mediagen.testing.gemini_wire import prompt_of, query_key

if TYPE_CHECKING:
    from mediagen.testing.gemini_server import FakeGeminiServer

_PATH = re.compile(r"^/(?P<version>v1(?:beta|alpha)?)/models/(?P<model>[^/:]+):(?P<method>\w+)$")


def handler_for(server: FakeGeminiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real API
        timeout = 30

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read server.requests instead

        def do_POST(self) -> None:
            # The record is listed on arrival and completed before the answer is sent,
            # so a client that has its answer always finds its request recorded.
            record = server._arrive(self.path.split("?", 1)[0])
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                record.api_key = self.headers.get("x-goog-api-key") or query_key(self.path)
                match = _PATH.match(record.path)
                delay = 0.0
                if match is None:
                    status, payload, headers = error_answer(
                        Fault.error(404, f"no route {record.path}")
                    )
                    record.outcome = "no route"
                else:
                    record.model = match["model"]
                    try:
                        record.body = json.loads(raw or b"{}")
                    except ValueError:
                        record.body = {}
                    record.prompt = prompt_of(record.body)
                    if match["method"] != "generateContent" or not record.body.get("contents"):
                        status, payload, headers = error_answer(
                            Fault.error(400, "only generateContent with contents is served")
                        )
                        record.outcome = "bad request"
                    else:
                        status, payload, headers, record.outcome, delay = server.answer(
                            record.model, record.body, record.api_key
                        )
                record.status = status
                if status == 200 and isinstance(payload, dict):
                    record.usage = dict(payload.get("usageMetadata") or {})
                if delay:
                    time.sleep(delay)
                server._leave(record)
                self._send(status, payload, headers)
            except (BrokenPipeError, ConnectionResetError):
                record.outcome += " (client gone)"
            finally:
                server._leave(record)

        def _send(
            self, status: int, payload: dict[str, Any] | bytes, headers: dict[str, str]
        ) -> None:
            html = isinstance(payload, bytes)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            kind = "text/html" if html else "application/json"
            self.send_header("Content-Type", f"{kind}; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

    return Handler
