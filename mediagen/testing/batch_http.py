"""The HTTP side of the local Batch API server: routes, headers, bodies.

What to answer lives in :mod:`mediagen.testing.batch_server`; this module parses
the request (the key in ``x-goog-api-key``, the resumable-upload headers, the
JSON body), records it and writes the answer in ``google.rpc`` form. Requests
it does not route (``generateContent``) are passed on, unchanged, to the local
Gemini server behind it.
"""

from __future__ import annotations

import http.client
import json
import re
from contextlib import suppress
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from mediagen.testing.batch_server import FakeBatchServer

_UPLOAD = re.compile(r"^/upload/v1beta/files$")
_CREATE = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):batchGenerateContent$")
_BATCH = re.compile(r"^/v1beta/(?P<name>batches/[a-z0-9]+)(?::(?P<verb>cancel))?$")
_BATCHES = re.compile(r"^/v1beta/batches$")
_FILE = re.compile(r"^/v1beta/(?P<name>files/[a-z0-9-]+)(?::(?P<verb>download))?$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND"}


def _error(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}


def handler_for(server: FakeBatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def log_message(self, format: str, *args: Any) -> None:
            pass

        # -- dispatch ------------------------------------------------------------------

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            routed = self._route(method, path)
            if routed is None:
                self._proxy(method, raw)
                return
            server.note(method, path)
            # The upload URL is its own credential (the SDK sends no key with the bytes).
            by_upload_id = routed == self._upload and "upload_id" in query
            if not by_upload_id and not server.key_ok(self.headers.get("x-goog-api-key")):
                self._json(401, _error(401, "API key not valid. Please pass a valid API key."))
                return
            with suppress(BrokenPipeError, ConnectionResetError):
                routed(path, query, raw)

        def _route(self, method: str, path: str) -> Any:
            if method == "POST" and _UPLOAD.match(path):
                return self._upload
            if method == "POST" and _CREATE.match(path):
                return self._create
            if _BATCHES.match(path) and method == "GET":
                return self._list
            if _BATCH.match(path):
                return self._batch
            if _FILE.match(path):
                return self._file
            return None

        # -- the Files API -------------------------------------------------------------

        def _upload(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            command = (self.headers.get("X-Goog-Upload-Command") or "").lower()
            if "upload_id" not in query:
                if (self.headers.get("X-Goog-Upload-Protocol") or "").lower() != "resumable" or (
                    command != "start"
                ):
                    self._json(400, _error(400, "only resumable uploads are served"))
                    return
                body = json.loads(raw or b"{}")
                size = int(self.headers.get("X-Goog-Upload-Header-Content-Length") or 0)
                mime = self.headers.get("X-Goog-Upload-Header-Content-Type") or ""
                upload_id = server.start_upload(body.get("file") or {}, size, mime)
                location = f"{server.base_url}/upload/v1beta/files?upload_id={upload_id}" \
                    "&upload_protocol=resumable"  # fmt: skip
                self._json(200, {}, {"X-Goog-Upload-URL": location,
                                     "X-Goog-Upload-Status": "active"})  # fmt: skip
                return
            try:
                offset = int(self.headers.get("X-Goog-Upload-Offset") or 0)
                resource = server.upload_chunk(
                    query["upload_id"][0], offset, raw, "finalize" in command
                )
            except KeyError:
                self._json(404, _error(404, "no such upload"))
                return
            except ValueError as exc:
                self._json(400, _error(400, str(exc)))
                return
            if resource is None:
                self._json(200, {}, {"X-Goog-Upload-Status": "active"})
            else:
                self._json(200, {"file": resource}, {"X-Goog-Upload-Status": "final"})

        def _file(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            match = _FILE.match(path)
            assert match is not None
            stored = server.file(match["name"])
            if self.command == "DELETE":
                self._json(200 if server.delete_file(match["name"]) else 404, {})
                return
            if stored is None:
                self._json(404, _error(404, f"{match['name']} not found"))
            elif match["verb"] == "download":
                self._bytes(200, stored.data, stored.mime_type)
            else:
                self._json(200, stored.resource(server.base_url))

        # -- batches ---------------------------------------------------------------------

        def _create(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            match = _CREATE.match(path)
            assert match is not None
            try:
                body = json.loads(raw or b"{}")
                batch = body.get("batch") or {}
                if not isinstance(batch, dict) or "inputConfig" not in batch:
                    raise ValueError("batch.inputConfig is required")
                resource = server.create_job(
                    match["model"], batch, self.headers.get("x-goog-api-key")
                )
            except ValueError as exc:
                self._json(400, _error(400, str(exc)))
                return
            self._json(200, resource)

        def _batch(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            match = _BATCH.match(path)
            assert match is not None
            name = match["name"]
            job = server.job(name)
            if job is None:
                self._json(404, _error(404, f"{name} not found"))
            elif self.command == "POST" and match["verb"] == "cancel":
                server.cancel(name)
                self._json(200, {})
            elif self.command == "DELETE":
                server.delete_job(name)
                self._json(200, {})
            elif self.command == "GET":
                self._json(200, server.resource(job))
            else:
                self._json(400, _error(400, f"{self.command} {path} is not served"))

        def _list(self, path: str, query: dict[str, list[str]], raw: bytes) -> None:
            jobs = server.list_jobs()
            size = int((query.get("pageSize") or ["50"])[0])
            start = int((query.get("pageToken") or ["0"])[0] or 0)
            page = jobs[start : start + size]
            body: dict[str, Any] = {"operations": [server.resource(j) for j in page]}
            if start + size < len(jobs):
                body["nextPageToken"] = str(start + size)
            self._json(200, body)

        # -- answers ---------------------------------------------------------------------

        def _proxy(self, method: str, raw: bytes) -> None:
            """Pass a request this server does not route to the Gemini server behind it."""
            host, port = server.gemini._httpd.server_address[:2]
            connection = http.client.HTTPConnection(str(host), int(port), timeout=600)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                connection.request(method, self.path, body=raw or None, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)
            finally:
                connection.close()

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._bytes(status, json.dumps(payload).encode(), "application/json; charset=UTF-8",
                        headers)  # fmt: skip

        def _bytes(
            self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

    return Handler
