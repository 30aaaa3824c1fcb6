"""Gemini's Batch API, file mode: submit many image requests as one job, read the answers.

Why file mode: inline batches must stay under 20 MB *including the answers*,
and one 2K/4K image answer is several MB (Batch API docs,
ai.google.dev/gemini-api/docs/batch-api, read 2026-11-29). So the requests go
up as a JSONL file through the Files API (a resumable upload) and the answers
come back as a JSONL file:

- each input line is ``{"key": K, "request": GenerateContentRequest}``; the
  request is built by the SDK's own converter from the very
  ``GenerateContentConfig`` the sync path sends (:func:`image_config`), so a
  batch image asks exactly what a sync one would;
- ``client.batches.create(model=..., src="files/…")`` makes the job; its name
  (``batches/…``) is what the engine stores so a later run polls it again;
- each output line is ``{"key", "response"}`` (read by the sync path's
  :func:`~mediagen.backends.gemini.response.parse_answer`: blocks, text-only
  answers and bad data mean what they mean in sync mode) or ``{"key",
  "error"}`` (translated by :mod:`mediagen.backends.gemini.errors`, as a sync
  HTTP error would be);
- the price is the model's batch price (``batch_factor``, 50 %) × the usage.

One job holds lines of one model only (the API takes the model in the path);
:func:`split` cuts a model's lines into jobs under ``max_lines`` and
``max_bytes`` (the Files API takes up to 2 GB per file).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mediagen import redaction
from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.gemini import attempts as attempts_
from mediagen.backends.gemini import credentials, pricing
from mediagen.backends.gemini import references as refs
from mediagen.backends.gemini.backend import API_VERSION
from mediagen.backends.gemini.response import parse_answer
from mediagen.backends.gemini.settings import GeminiSettings, base_url
from mediagen.backends.gemini.sizes import aspect_ratios_of, image_size_for, nearest_aspect_ratio
from mediagen.errors import BackendError, BlockedError, PermanentError
from mediagen.reasons import short_reason
from mediagen.settings import Settings

MAX_FILE_BYTES = 2 * 1024**3  # Files API limit per file (docs, 2026-11-29)
MAX_LINES = 10_000  # lines per job: a bound of ours, so one failed job retries a bounded set

# The SDK's JobState names without their prefix; the engine compares these.
STATES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED")


@dataclass(frozen=True)
class JobInfo:
    name: str  # batches/…
    state: str  # one of STATES (or the API's own word for a state it adds)
    model: str
    display_name: str
    created: str  # RFC 3339
    responses_file: str | None


@dataclass(frozen=True)
class LineOutcome:
    """One answered line: the image, or the error it amounts to (as in sync mode)."""

    key: str
    result: GenerationResult | None = None
    error: BackendError | None = None


def image_config(model: str, request: GenerationRequest) -> Any:
    """The ``GenerateContentConfig`` of an image request: the sync path's, without the
    HTTP-response switch (which only changes how the SDK hands back the answer)."""
    from google.genai import types

    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(
            aspect_ratio=nearest_aspect_ratio(
                request.width, request.height, aspect_ratios_of(model)
            ),
            image_size=image_size_for(model, request),
        ),
    )


def split(lines: Sequence[bytes], *, max_lines: int = MAX_LINES,
          max_bytes: int = MAX_FILE_BYTES) -> list[list[int]]:  # fmt: skip
    """Indexes of ``lines`` (encoded JSONL lines of one model) grouped into jobs."""
    groups: list[list[int]] = []
    size = 0
    for index, line in enumerate(lines):
        if not groups or len(groups[-1]) >= max_lines or size + len(line) > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += len(line)
    return groups


class GeminiBatchClient:
    """Submit, poll, read, cancel and list Gemini batch jobs (file mode)."""

    def __init__(self, settings: Settings) -> None:
        from google import genai
        from google.genai import types

        own = settings.backend_settings("gemini", GeminiSettings)
        self._own = own
        key = credentials.gemini_api_key(own).get_secret_value()
        self._key = key
        redaction.register(key)
        self._client = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=base_url(own), api_version=API_VERSION, timeout=int(own.timeout * 1000)
            ),
        )

    # -- requests ----------------------------------------------------------------------

    def line(self, key: str, model: str, request: GenerationRequest) -> bytes:
        """One JSONL input line: ``{"key", "request"}``, the request as the SDK sends it."""
        from google.genai import _common
        from google.genai import batches as sdk_batches

        converted = sdk_batches._InlinedRequest_to_mldev(
            self._client._api_client,
            {
                "model": model,
                "contents": refs.contents(request),
                "config": image_config(model, request),
            },
        )
        # As the SDK does before it sends a request: pydantic parts (an inline reference
        # image's Blob) to dicts, bytes to base64.
        body = _common.encode_unserializable_types(_common.convert_to_dict(converted["request"]))
        body.pop("model", None)  # the job's model is in its URL
        return (json.dumps({"key": key, "request": body}, separators=(",", ":")) + "\n").encode()

    def submit(self, model: str, lines: Iterable[bytes], display_name: str) -> str:
        """Upload the lines and create the job; returns its name (``batches/…``)."""
        from google.genai import types

        data = b"".join(lines)
        with self._translated(model):
            uploaded = self._client.files.upload(
                file=io.BytesIO(data),
                config=types.UploadFileConfig(display_name=display_name, mime_type="jsonl"),
            )
            job = self._client.batches.create(
                model=model, src=str(uploaded.name), config={"display_name": display_name}
            )
        return str(job.name)

    # -- jobs ----------------------------------------------------------------------------

    def get(self, name: str) -> JobInfo:
        with self._translated(name):
            return _info(self._client.batches.get(name=name))

    def cancel(self, name: str) -> None:
        with self._translated(name):
            self._client.batches.cancel(name=name)

    def delete(self, name: str) -> None:
        with self._translated(name):
            self._client.batches.delete(name=name)

    def list(self, limit: int = 100) -> list[JobInfo]:
        with self._translated("batches"):
            pager = self._client.batches.list(config={"page_size": min(limit, 100)})
            out = []
            for job in pager:
                out.append(_info(job))
                if len(out) >= limit:
                    break
            return out

    def results(self, job: JobInfo) -> list[LineOutcome]:
        """Every answered line of a succeeded job, read as the sync path reads answers."""
        if not job.responses_file:
            raise PermanentError(f"batch {job.name} succeeded without a responses file")
        with self._translated(job.name):
            data = self._client.files.download(file=job.responses_file)
        out = []
        for raw in data.decode("utf-8").splitlines():
            if raw.strip():
                out.append(self._outcome(json.loads(raw), job.model))
        return out

    def _outcome(self, line: dict[str, Any], model: str) -> LineOutcome:
        from google.genai import errors as genai_errors

        from mediagen.backends.gemini.errors import translate

        key = str(line.get("key", ""))
        if "response" not in line:
            error = line.get("error") or {"code": 500, "message": "no response and no error"}
            api_error = genai_errors.APIError(int(error.get("code") or 500), {"error": error})
            translated = translate(api_error, model, self._redact) or PermanentError(
                self._redact(str(error.get("message", "")))
            )
            translated.attempts = [attempts_.attempt(model, translated)]  # type: ignore[attr-defined]
            return LineOutcome(key, error=translated)
        body = json.dumps(line["response"])
        try:
            answer = parse_answer(body, model)
        except (BlockedError, PermanentError) as exc:
            # Billed all the same, as in sync mode (see backend._call).
            error: BackendError
            if isinstance(exc, BlockedError):
                error = BlockedError(exc.reason, self._redact(exc.detail))
            else:
                error = PermanentError(self._redact(str(exc)))
            usage = attempts_.usage_of_body(body)
            error.usage = usage  # type: ignore[attr-defined]
            error.cost_usd = self.cost_usd(model, usage)  # type: ignore[attr-defined]
            error.model = model  # type: ignore[attr-defined]
            error.attempts = [attempts_.attempt(model, error)]  # type: ignore[attr-defined]
            return LineOutcome(key, error=error)
        return LineOutcome(key, result=GenerationResult(
            data=answer.data, mime_type=answer.mime_type, backend="gemini", model=model,
            ai_generated=True, usage=answer.usage, cost_usd=self.cost_usd(model, answer.usage),
            metadata={"model_version": answer.model_version, "delivery": "batch"},
            attempts=({"model": model, "outcome": "ok", "reason": ""},),
        ))  # fmt: skip

    def cost_usd(self, model: str, usage: dict[str, int]) -> float:
        """The batch price of an answer (the catalogue's batch factor of the sync price)."""
        return pricing.cost_usd(model, usage, self._own.pricing, delivery="batch")

    # -- errors ------------------------------------------------------------------------

    def _translated(self, what: str) -> Any:
        return _Translated(what, self._redact)

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def close(self) -> None:
        self._client.close()


class _Translated:
    """SDK and transport errors become mediagen's, scrubbed and out of the chain."""

    def __init__(self, what: str, redact: Any) -> None:
        self.what, self.redact = what, redact

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        from mediagen.backends.gemini.errors import translate

        translated = translate(exc, self.what, self.redact)
        if translated is None and not redaction.leaks(exc):
            return False
        redaction.scrub(exc)
        raise (translated or PermanentError(short_reason(exc))) from None


def _info(job: Any) -> JobInfo:
    state = str(getattr(job.state, "value", job.state) or "")
    dest = getattr(job, "dest", None)
    return JobInfo(
        name=str(job.name),
        state=state.removeprefix("JOB_STATE_"),
        model=str(job.model or "").removeprefix("models/"),
        display_name=str(job.display_name or ""),
        created=job.create_time.isoformat() if job.create_time else "",
        responses_file=getattr(dest, "file_name", None),
    )


__all__ = ["STATES", "GeminiBatchClient", "JobInfo", "LineOutcome", "image_config", "split"]
