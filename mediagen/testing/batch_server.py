"""A local Gemini Batch API server: Files upload, batch jobs, states, JSONL results.

It speaks the wire format the google-genai SDK (3.x, ``files.py`` /
``batches.py`` / ``_api_client.upload_file``) uses against the Gemini Developer
API, checked against the SDK source in this venv and the Batch API docs
(ai.google.dev/gemini-api/docs/batch-api, read 2026-11-29):

- Files API, resumable: ``POST /upload/v1beta/files`` with
  ``X-Goog-Upload-Protocol: resumable`` and ``X-Goog-Upload-Command: start``
  answers an ``X-Goog-Upload-URL``; the SDK then POSTs the bytes there with
  ``X-Goog-Upload-Command: upload, finalize`` and ``X-Goog-Upload-Offset``, and
  reads ``{"file": {...}}`` with ``X-Goog-Upload-Status: final``;
- ``POST /v1beta/models/{m}:batchGenerateContent`` with
  ``{"batch": {"displayName", "inputConfig": {"fileName": "files/…"}}}``
  answers the batch (``{"name": "batches/…", "metadata": {...}}``);
- ``GET /v1beta/batches/{id}``: ``metadata.state`` is ``BATCH_STATE_PENDING``,
  then ``RUNNING``, then ``SUCCEEDED`` / ``FAILED`` / ``CANCELLED`` /
  ``EXPIRED`` (the SDK maps them to ``JOB_STATE_*``); once succeeded,
  ``metadata.output.responsesFile`` names a JSONL of ``{"key", "response"}``
  lines, or ``{"key", "error"}`` for a line that failed;
- ``GET /v1beta/files/{id}:download?alt=media``, ``POST batches/{id}:cancel``,
  ``DELETE batches/{id}``, ``GET batches`` (``operations`` + ``nextPageToken``).

Each line is answered by a :class:`~mediagen.testing.FakeGeminiServer` (its
images, usage and scripted faults: a scripted error becomes that line's
``error``, a block its ``response``), when the job reaches ``RUNNING``'s end.
Every other request (``generateContent``: the sync fallback, alt text) is passed
on to that server, so one base URL serves both. States advance with time
(``pending_s``, ``running_s``); :meth:`FakeBatchServer.script_outcome` makes the
next jobs end ``FAILED`` or ``EXPIRED``. Counters for tests:
:attr:`jobs_created`, :attr:`lines_received`, :attr:`lines_answered`,
:attr:`keys_received` and :attr:`requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mediagen.testing import serving
from mediagen.testing.batch_http import handler_for
from mediagen.testing.batch_wire import BATCH_TYPE, TERMINAL, BatchJob, StoredFile, new_id, now_iso
from mediagen.testing.gemini_server import FakeGeminiServer


@dataclass
class _Counters:
    jobs_created: int = 0
    lines_received: int = 0
    lines_answered: int = 0
    keys_received: Counter[str] = field(default_factory=Counter)
    answers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


class FakeBatchServer:
    """A Batch API (and, passed through, Gemini) server on a random loopback port.

    ``gemini``: the :class:`FakeGeminiServer` that answers the lines and every
    ``generateContent`` (default: a new one, built with ``gemini_options``).
    ``pending_s`` / ``running_s``: how long a new job stays in each state.
    """

    def __init__(
        self,
        gemini: FakeGeminiServer | None = None,
        *,
        api_key: str | None = None,
        pending_s: float = 0.0,
        running_s: float = 0.0,
        host: str = "127.0.0.1",
        **gemini_options: Any,
    ) -> None:
        self._own_gemini = gemini is None
        self.gemini = gemini or FakeGeminiServer(api_key=api_key, **gemini_options)
        self.api_key = api_key
        self.pending_s = pending_s
        self.running_s = running_s
        self._lock = threading.Lock()
        self._answering = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, BatchJob] = {}
        self._outcomes: list[str] = []
        self._counters = _Counters()
        self._httpd = serving.http_server(host, handler_for(self))
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return serving.base_url(self._httpd)

    def start(self) -> FakeBatchServer:
        if self._own_gemini:
            self.gemini.start()
        if self._thread is None:
            self._thread = serving.serve(self._httpd, "fake-gemini-batch")
        return self

    def stop(self) -> None:
        serving.shut_down(self._httpd, self._thread)
        self._thread = None
        if self._own_gemini:
            self.gemini.stop()

    def __enter__(self) -> FakeBatchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and counters ------------------------------------------------------------

    def script_outcome(self, state: str, *, times: int = 1) -> None:
        """The next ``times`` jobs end in ``state`` (FAILED, EXPIRED, SUCCEEDED) on their own."""
        state = state.removeprefix("BATCH_STATE_")
        if state not in TERMINAL - {"CANCELLED"}:
            raise ValueError(f"a job ends SUCCEEDED, FAILED or EXPIRED on its own, not {state}")
        with self._lock:
            self._outcomes.extend([state] * times)

    def finish_now(self) -> None:
        """Every job still pending or running ends now (a test need not wait)."""
        with self._lock:
            for job in self._jobs.values():
                job.pending_s = job.running_s = 0.0
                job.created = min(job.created, time.time())

    @property
    def jobs_created(self) -> int:
        return self._counters.jobs_created

    @property
    def lines_received(self) -> int:
        """Lines of every job created (a line resubmitted counts again)."""
        return self._counters.lines_received

    @property
    def lines_answered(self) -> int:
        return self._counters.lines_answered

    @property
    def keys_received(self) -> Counter[str]:
        """How often each line key was submitted, over all jobs."""
        with self._lock:
            return Counter(self._counters.keys_received)

    @property
    def answers(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(key, model, usageMetadata) of every line answered with a 200 answer."""
        with self._lock:
            return list(self._counters.answers)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request to the batch and file routes."""
        with self._lock:
            return list(self._counters.requests)

    def job_names(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    # -- what the handler asks -----------------------------------------------------------

    def note(self, method: str, path: str) -> None:
        with self._lock:
            self._counters.requests.append((method, path))

    def key_ok(self, api_key: str | None) -> bool:
        return self.api_key is None or api_key == self.api_key

    def start_upload(self, meta: dict[str, Any], size: int, mime_type: str) -> str:
        upload_id = new_id()
        with self._lock:
            self._uploads[upload_id] = {"meta": meta, "size": size, "mime": mime_type,
                                        "data": bytearray()}  # fmt: skip
        return upload_id

    def upload_chunk(
        self, upload_id: str, offset: int, chunk: bytes, finalize: bool
    ) -> dict[str, Any] | None:
        """Append a chunk; the file resource once finalized (None: still active).
        KeyError for an unknown upload, ValueError for a wrong offset."""
        with self._lock:
            upload = self._uploads[upload_id]
            if offset != len(upload["data"]):
                raise ValueError(f"offset {offset} != {len(upload['data'])} bytes received")
            upload["data"] += chunk
            if not finalize:
                return None
            del self._uploads[upload_id]
            meta = upload["meta"] or {}
            name = str(meta.get("name") or f"files/{new_id()}")
            stored = StoredFile(name, str(meta.get("displayName") or ""), upload["mime"],
                                bytes(upload["data"]), time.time(), "UPLOADED")  # fmt: skip
            self._files[name] = stored
        return stored.resource(self.base_url)

    def file(self, name: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(name)

    def delete_file(self, name: str) -> bool:
        with self._lock:
            return self._files.pop(name, None) is not None

    def create_job(self, model: str, batch: dict[str, Any], api_key: str | None) -> dict[str, Any]:
        """The new job's resource; ValueError (a 400) for a missing or unreadable input file."""
        file_name = str((batch.get("inputConfig") or {}).get("fileName") or "")
        stored = self.file(file_name)
        if stored is None:
            raise ValueError(f"inputConfig.fileName {file_name!r} is not an uploaded file")
        lines = []
        for number, raw in enumerate(stored.data.decode("utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f"{file_name} line {number} is not JSON") from exc
            if not isinstance(line, dict) or "request" not in line:
                raise ValueError(f"{file_name} line {number} has no 'request'")
            lines.append(line)
        with self._lock:
            outcome = self._outcomes.pop(0) if self._outcomes else "SUCCEEDED"
            job = BatchJob(
                name=f"batches/{new_id()}", model=model,
                display_name=str(batch.get("displayName") or ""), input_file=file_name,
                lines=lines, api_key=api_key, created=time.time(), pending_s=self.pending_s,
                running_s=self.running_s, outcome=outcome,
            )  # fmt: skip
            self._jobs[job.name] = job
            self._counters.jobs_created += 1
            self._counters.lines_received += len(lines)
            self._counters.keys_received.update(str(line.get("key", "")) for line in lines)
        return self.resource(job)

    def job(self, name: str) -> BatchJob | None:
        with self._lock:
            return self._jobs.get(name)

    def cancel(self, name: str) -> bool:
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                return False
            if job.state(time.time()) not in TERMINAL:
                job.cancelled_at = time.time()
            return True

    def delete_job(self, name: str) -> bool:
        with self._lock:
            return self._jobs.pop(name, None) is not None

    def list_jobs(self) -> list[BatchJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created)

    def resource(self, job: BatchJob) -> dict[str, Any]:
        """The job as ``GET batches/{id}`` shows it (answering its lines once it succeeded)."""
        with self._answering:  # two polls at once answer the lines once
            now = time.time()
            state = job.state(now)
            if state in TERMINAL and job.ended is None:
                if state == "SUCCEEDED":
                    self._answer_lines(job)
                job.ended = now
        count = len(job.lines)
        done = state in TERMINAL
        metadata: dict[str, Any] = {
            "@type": BATCH_TYPE,
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "inputConfig": {"fileName": job.input_file},
            "createTime": now_iso(job.created),
            "updateTime": now_iso(job.ended or now),
            "state": f"BATCH_STATE_{state}",
            "batchStats": {
                "requestCount": str(count),
                "pendingRequestCount": "0" if done else str(count),
            },
        }
        if job.ended is not None:
            metadata["endTime"] = now_iso(job.ended)
        if job.output_file:
            metadata["output"] = {"responsesFile": job.output_file}
        out: dict[str, Any] = {"name": job.name, "metadata": metadata, "done": done}
        if state in ("FAILED", "EXPIRED"):
            out["error"] = {"code": 13 if state == "FAILED" else 4, "message": f"batch {state}"}
        return out

    def _answer_lines(self, job: BatchJob) -> None:
        """Answer every line with the Gemini server's answer (its scripted faults included)."""
        out = []
        for line in job.lines:
            request = line.get("request") or {}
            status, payload, _, _, _ = self.gemini.answer(job.model, request, job.api_key)
            if status == 200 and isinstance(payload, dict):
                out.append({"key": line.get("key"), "response": payload})
                usage = dict(payload.get("usageMetadata") or {})
                with self._lock:
                    self._counters.answers.append((str(line.get("key")), job.model, usage))
            else:
                error = payload.get("error") if isinstance(payload, dict) else None
                out.append({"key": line.get("key"),
                            "error": error or {"code": status, "message": "error"}})  # fmt: skip
        data = "".join(json.dumps(o) + "\n" for o in out).encode()
        stored = StoredFile(f"files/{new_id()}", f"{job.name}-responses", "application/jsonl",
                            data, time.time(), "GENERATED")  # fmt: skip
        with self._lock:
            self._files[stored.name] = stored
            self._counters.lines_answered += len(out)
        job.output_file = stored.name


def serve(**kwargs: Any) -> Any:
    """Generator form for fixtures: ``yield from serve(pending_s=...)``."""
    server = FakeBatchServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["TERMINAL", "BatchJob", "FakeBatchServer", "StoredFile", "serve"]
