"""A local Gemini API server: the REST wire format, real images, scripted faults.

It listens on a random loopback port and answers
``POST /v1beta/models/{model}:generateContent`` the way the Gemini API does,
so the real google-genai SDK (and so mediagen's ``gemini`` backend) can be
pointed at it with ``MEDIAGEN_GEMINI_BASE_URL`` / ``HttpOptions(base_url=...)``.
Images are painted by mediagen's offline renderer at the aspect ratio the
request asks for. Every request is recorded (time, model, body, outcome), and
faults can be scripted per request::

    with FakeGeminiServer(api_key="test-key") as server:
        server.script(Fault.rate_limited(retry_delay=0.2), times=3)
        server.script(Fault.finish("IMAGE_SAFETY"), match="[[unsafe]]")
        server.script(Fault.prompt_blocked(), modality="text")  # the next alt-text call
        ...  # run mediagen with MEDIAGEN_GEMINI_BASE_URL=server.base_url
        assert len(server.requests) == 5

Text requests (``responseModalities: ["TEXT"]``, or a model without "image" in
its name: how mediagen asks for alt text) get a text answer:
``text_answer(prompt)`` when given, else :func:`default_text_answer`, a
deterministic sentence naming the purpose the prompt states.

It is a test double for development and CI, not a proxy: it never talks to Google.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mediagen.backends.base import GenerationRequest
from mediagen.backends.offline import render
from mediagen.presets import THEMES, Theme

_PATH = re.compile(r"^/(?P<version>v1(?:beta|alpha)?)/models/(?P<model>[^/:]+):(?P<method>\w+)$")

# Output image tokens per image, as the real models report them.
IMAGE_TOKENS = {"1K": 1290, "2K": 1290, "4K": 1290}
PRO_IMAGE_TOKENS = {"1K": 1120, "2K": 1120, "4K": 2000}
INPUT_IMAGE_TOKENS = 258  # what one small input image counts as in a prompt

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Fault:
    """One scripted answer. Build them with the class methods below."""

    kind: str  # error | block | finish | text | image | delay
    status: int = 200
    status_name: str = ""
    message: str = ""
    reason: str = ""
    retry_delay: float | None = None  # google.rpc.RetryInfo.retryDelay, seconds
    retry_after: float | None = None  # Retry-After header, seconds
    delay: float = 0.0  # seconds to wait before answering
    thought: bool = False  # mark the image part thought=True (Gemini 3 style)
    text_first: bool = False  # a text part before the image
    error_info_reason: str = ""  # google.rpc.ErrorInfo.reason
    data: bytes = b""  # the image bytes to answer with (default: a rendered picture)
    mime_type: str = "image/png"  # the inlineData.mimeType sent with ``data``
    usage: dict[str, Any] | None = None  # usageMetadata to send instead of the real one

    @classmethod
    def rate_limited(
        cls, retry_delay: float | None = 1.0, *, retry_after: float | None = None
    ) -> Fault:
        """429 RESOURCE_EXHAUSTED, with RetryInfo.retryDelay and/or a Retry-After header."""
        return cls(
            "error",
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            retry_delay=retry_delay,
            retry_after=retry_after,
        )

    @classmethod
    def server_error(cls, status: int = 500, *, retry_after: float | None = None) -> Fault:
        """500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED..."""
        message = {503: "The model is overloaded. Please try again later."}.get(
            status, "An internal error has occurred."
        )
        return cls(
            "error", status, _STATUS_NAMES.get(status, "UNKNOWN"), message, retry_after=retry_after
        )

    @classmethod
    def error(cls, status: int, message: str = "", status_name: str = "") -> Fault:
        """Any google.rpc error answer (400 bad request, 404 model not found, ...)."""
        return cls(
            "error",
            status,
            status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
            message or f"scripted error {status}",
        )

    @classmethod
    def model_not_found(cls) -> Fault:
        return cls.error(404, "models/x is not found for API version v1beta.", "NOT_FOUND")

    @classmethod
    def bad_key(cls, status: int = 400) -> Fault:
        """The answer to a wrong key: the real API says 400 with reason API_KEY_INVALID."""
        if status == 400:
            return cls(
                "error",
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                error_info_reason="API_KEY_INVALID",
            )
        return cls.error(status, "The caller does not have permission.")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, after ``seconds`` (longer than the client's timeout: a timeout)."""
        return cls("delay", delay=seconds)

    @classmethod
    def prompt_blocked(cls, reason: str = "PROHIBITED_CONTENT", message: str = "") -> Fault:
        """``promptFeedback.blockReason`` and no candidates."""
        return cls("block", reason=reason, message=message)

    @classmethod
    def finish(cls, reason: str = "IMAGE_SAFETY", message: str = "") -> Fault:
        """A candidate with this finishReason (and finishMessage) and no image part."""
        return cls("finish", reason=reason, message=message)

    @classmethod
    def text_only(cls, text: str = "I can't draw that, but here is a description.") -> Fault:
        """A text part and no image, finishReason STOP."""
        return cls("text", message=text)

    @classmethod
    def image_bytes(
        cls, data: bytes, mime_type: str = "image/png", *, usage: dict[str, Any] | None = None
    ) -> Fault:
        """An answer carrying exactly ``data`` as its image (hostile or broken answers)."""
        return cls("image", data=data, mime_type=mime_type, usage=usage)

    @classmethod
    def with_usage(cls, usage: dict[str, Any]) -> Fault:
        """A normal image, with this ``usageMetadata`` (e.g. ``{"totalTokenCount": 1e999}``)."""
        return cls("image", usage=usage)

    @classmethod
    def thought_image(cls, *, text_first: bool = True) -> Fault:
        """The image part marked ``thought: true``, after a text part (Gemini 3 style)."""
        return cls("image", thought=True, text_first=text_first)


@dataclass
class Rule:
    """A fault applied to the next matching requests (``times=None``: every one)."""

    fault: Fault
    times: int | None = 1
    model: str | None = None
    match: str | None = None  # substring of the prompt
    modality: str | None = None  # "image" or "text" requests only (None: both)

    def matches(self, model: str, prompt: str, modality: str = "image") -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.model is not None and self.model != model:
            return False
        if self.modality is not None and self.modality != modality:
            return False
        return self.match is None or self.match in prompt


@dataclass
class RecordedRequest:
    """One request the server received."""

    started: float  # time.monotonic() when it arrived
    finished: float  # when the answer was ready (0 while in flight)
    model: str
    method: str
    path: str
    body: dict[str, Any]
    prompt: str
    api_key: str | None
    status: int
    outcome: str  # "image", or the fault kind and reason

    @property
    def image_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {}).get("imageConfig", {})

    @property
    def is_text(self) -> bool:
        """A request for text (alt text), not for an image."""
        return is_text_request(self.model, self.body)

    @property
    def inline_data(self) -> list[tuple[str, bytes]]:
        """(mime type, bytes) of each inline part sent (the image to describe)."""
        return _inline_parts(self.body)


@dataclass
class _State:
    rules: list[Rule] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class FakeGeminiServer:
    """A threaded HTTP server speaking Gemini's REST API on 127.0.0.1.

    ``api_key``: the key it accepts (None: any). ``models``: the models it
    knows (None: any name); others answer 404 NOT_FOUND. ``image_side``: the
    long side of 1K images (2K/4K are larger, up to ``max_side``).
    ``text_answer``: the text of text answers, a string or a function of the
    prompt (default: :func:`default_text_answer`).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: set[str] | None = None,
        image_side: int = 1024,
        max_side: int = 1024,
        host: str = "127.0.0.1",
        text_answer: str | Callable[[str], str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.image_side = image_side
        self.max_side = max_side
        self.text_answer = text_answer
        self._state = _State()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGeminiServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-gemini",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeGeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection ---------------------------------------------------

    def script(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        model: str | None = None,
        match: str | None = None,
        modality: str | None = None,
    ) -> Rule:
        """Answer the next ``times`` requests (for ``model`` / whose prompt contains
        ``match`` / of ``modality`` "image" or "text") with ``fault``. Rules are
        tried in the order they were added."""
        if modality not in (None, "image", "text"):
            raise ValueError(f"modality must be 'image', 'text' or None, not {modality!r}")
        rule = Rule(fault, times, model, match, modality)
        with self._lock:
            self._state.rules.append(rule)
        return rule

    def reset(self) -> None:
        """Forget scripted faults and recorded requests."""
        with self._lock:
            self._state = _State()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was answering at once."""
        return self._state.max_in_flight

    def requests_for(self, match: str) -> list[RecordedRequest]:
        """Requests whose prompt contains ``match``."""
        return [r for r in self.requests if match in r.prompt]

    @property
    def text_requests(self) -> list[RecordedRequest]:
        """The requests for text (alt text)."""
        return [r for r in self.requests if r.is_text]

    @property
    def image_requests(self) -> list[RecordedRequest]:
        """The requests for images."""
        return [r for r in self.requests if r.model and not r.is_text]

    # -- answering -------------------------------------------------------------

    def _take_fault(self, model: str, prompt: str, modality: str) -> Fault | None:
        with self._lock:
            for rule in self._state.rules:
                if rule.matches(model, prompt, modality):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.fault
        return None

    def _arrive(self, path: str) -> RecordedRequest:
        record = RecordedRequest(time.monotonic(), 0.0, "", "POST", path, {}, "", None, 0, "")
        with self._lock:
            self._state.in_flight += 1
            self._state.max_in_flight = max(self._state.max_in_flight, self._state.in_flight)
            self._state.requests.append(record)
        return record

    def _leave(self, record: RecordedRequest) -> None:
        with self._lock:
            if not record.finished:  # once per request
                record.finished = time.monotonic()
                self._state.in_flight -= 1

    def answer(
        self, model: str, body: dict[str, Any], api_key: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str], str, float]:
        """(status, JSON body, extra headers, outcome label, delay) for one request."""
        prompt = _prompt_of(body)
        text = is_text_request(model, body)
        if self.api_key is not None and api_key != self.api_key:
            fault: Fault | None = Fault.bad_key()
        elif self.models is not None and model not in self.models:
            fault = Fault.error(
                404,
                f"models/{model} is not found for API version v1beta, "
                "or is not supported for generateContent.",
            )
        else:
            fault = self._take_fault(model, prompt, "text" if text else "image")
        if fault is None:
            fault = Fault("image")
        if fault.kind == "error":
            return (*_error(fault), f"error {fault.status} {fault.status_name}", fault.delay)
        if text and fault.kind in ("image", "delay", "text"):
            answer = fault.message if fault.kind == "text" else self.text_for(prompt)
            usage = _usage(model, prompt, body, image=False, text=answer)
            return 200, _candidate([{"text": answer}], usage), {}, "text", fault.delay
        usage = _usage(model, prompt, body, image=fault.kind in ("image", "delay"))
        if fault.kind == "block":
            feedback = {"blockReason": fault.reason}
            if fault.message:
                feedback["blockReasonMessage"] = fault.message
            return (
                200,
                {"promptFeedback": feedback, "usageMetadata": usage},
                {},
                f"block {fault.reason}",
                0.0,
            )
        if fault.kind == "finish":
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": []},
                "finishReason": fault.reason,
                "index": 0,
            }
            if fault.message:
                candidate["finishMessage"] = fault.message
            return (
                200,
                {"candidates": [candidate], "usageMetadata": usage},
                {},
                f"finish {fault.reason}",
                0.0,
            )
        if fault.kind == "text":
            parts: list[dict[str, Any]] = [{"text": fault.message}]
            return 200, _candidate(parts, usage), {}, "text", 0.0
        parts = []
        if fault.text_first:
            parts.append({"text": "Here is the image you asked for.", **_thought(fault)})
        if fault.data:
            data, width, height = fault.data, 0, 0
        else:
            data, width, height = self._image(model, prompt, body)
        if fault.usage is not None:
            usage = fault.usage
        image_part: dict[str, Any] = {
            "inlineData": {"mimeType": fault.mime_type, "data": base64.b64encode(data).decode()}
        }
        parts.append({**image_part, **_thought(fault)})
        label = f"image {width}x{height}" + (" thought" if fault.thought else "")
        return 200, _candidate(parts, usage), {}, label, fault.delay

    def text_for(self, prompt: str) -> str:
        """The text a text request with this prompt is answered with."""
        if self.text_answer is None:
            return default_text_answer(prompt)
        if isinstance(self.text_answer, str):
            return self.text_answer
        return self.text_answer(prompt)

    def _image(self, model: str, prompt: str, body: dict[str, Any]) -> tuple[bytes, int, int]:
        config = body.get("generationConfig", {}).get("imageConfig", {})
        width, height = self.pixel_size(
            config.get("aspectRatio", "1:1"), config.get("imageSize", "1K")
        )
        request = GenerationRequest(
            prompt=prompt,
            width=width,
            height=height,
            quality="standard",
            backend_image_size=config.get("imageSize", "1K"),
            theme="modern",
            palette=THEMES[Theme.MODERN].palette,
        )
        with render(request) as image:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=1)
            return buffer.getvalue(), image.width, image.height

    def pixel_size(self, aspect_ratio: str, image_size: str = "1K") -> tuple[int, int]:
        """The pixel size a model answers with for an aspect ratio and image size."""
        try:
            w, h = (float(x) for x in aspect_ratio.split(":"))
        except ValueError:
            w, h = 1.0, 1.0
        scale = {"1K": 1, "2K": 2, "4K": 4}.get(image_size, 1)
        area = (self.image_side * scale) ** 2
        width, height = math.sqrt(area * w / h), math.sqrt(area * h / w)
        shrink = min(1.0, self.max_side / max(width, height))
        return max(16, round(width * shrink)), max(16, round(height * shrink))


def is_text_request(model: str, body: dict[str, Any]) -> bool:
    """Text is asked for: responseModalities says only TEXT, or the model is no image model."""
    modalities = body.get("generationConfig", {}).get("responseModalities") or []
    if modalities:
        return [str(m).upper() for m in modalities] == ["TEXT"]
    return "image" not in model.lower()


def default_text_answer(prompt: str) -> str:
    """A deterministic alt text naming the purpose an alt-text prompt states.

    mediagen's prompt says "It is used as: {use}; the image was made for:
    {subject}. ..."; the answer is "Picture for {use}: {subject}".
    """
    found = re.search(r"It is used as: (.*?)\. Say what", prompt, re.S)
    if found is None:
        return "A picture described by the local Gemini test server"
    use, _, subject = found.group(1).partition("; the image was made for: ")
    subject = " ".join(subject.split())
    return f"Picture for {use}: {subject}" if subject else f"Picture for {use}"


def _inline_parts(body: dict[str, Any]) -> list[tuple[str, bytes]]:
    found = []
    for content in body.get("contents", []):
        for part in content.get("parts", []) if isinstance(content, dict) else []:
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(blob, dict):
                # The SDK sends URL-safe base64 and "mime_type"; the API takes either form.
                encoded = str(blob.get("data", "")).replace("-", "+").replace("_", "/")
                try:
                    data = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
                except ValueError:
                    data = b""
                mime = blob.get("mimeType") or blob.get("mime_type") or ""
                found.append((str(mime), data))
    return found


def _thought(fault: Fault) -> dict[str, Any]:
    return {"thought": True} if fault.thought else {}


def _candidate(parts: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": usage,
        "modelVersion": "fake",
    }


def _usage(
    model: str, prompt: str, body: dict[str, Any], *, image: bool, text: str | None = None
) -> dict[str, Any]:
    text_tokens = max(1, len(prompt) // 4)
    details = [{"modality": "TEXT", "tokenCount": text_tokens}]
    images = len(_inline_parts(body))
    if images:
        details.append({"modality": "IMAGE", "tokenCount": INPUT_IMAGE_TOKENS * images})
    prompt_tokens = text_tokens + INPUT_IMAGE_TOKENS * images
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "promptTokensDetails": details,
        "totalTokenCount": prompt_tokens,
    }
    if text is not None:
        tokens = max(1, len(text) // 4)
        usage |= {
            "candidatesTokenCount": tokens,
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
            "totalTokenCount": prompt_tokens + tokens,
        }
    if image:
        size = body.get("generationConfig", {}).get("imageConfig", {}).get("imageSize", "1K")
        table = PRO_IMAGE_TOKENS if "pro" in model else IMAGE_TOKENS
        tokens = table.get(size, table["1K"])
        usage |= {
            "candidatesTokenCount": tokens,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": tokens}],
            "totalTokenCount": prompt_tokens + tokens,
        }
    return usage


def _error(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    details: list[dict[str, Any]] = []
    if fault.retry_delay is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{fault.retry_delay:g}s",
            }
        )
    if fault.error_info_reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": fault.error_info_reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    error: dict[str, Any] = {
        "code": fault.status,
        "message": fault.message,
        "status": fault.status_name,
    }
    if details:
        error["details"] = details
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return fault.status, {"error": error}, headers


def _prompt_of(body: dict[str, Any]) -> str:
    texts = [
        part.get("text", "")
        for content in body.get("contents", [])
        if isinstance(content, dict)
        for part in content.get("parts", [])
        if isinstance(part, dict)
    ]
    return "\n".join(t for t in texts if t)


def _handler_for(server: FakeGeminiServer) -> type[BaseHTTPRequestHandler]:
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
                record.api_key = self.headers.get("x-goog-api-key") or _query_key(self.path)
                match = _PATH.match(record.path)
                delay = 0.0
                if match is None:
                    status, payload, headers = _error(Fault.error(404, f"no route {record.path}"))
                    record.outcome = "no route"
                else:
                    record.model = match["model"]
                    try:
                        record.body = json.loads(raw or b"{}")
                    except ValueError:
                        record.body = {}
                    record.prompt = _prompt_of(record.body)
                    if match["method"] != "generateContent" or not record.body.get("contents"):
                        status, payload, headers = _error(
                            Fault.error(400, "only generateContent with contents is served")
                        )
                        record.outcome = "bad request"
                    else:
                        status, payload, headers, record.outcome, delay = server.answer(
                            record.model, record.body, record.api_key
                        )
                record.status = status
                if delay:
                    time.sleep(delay)
                server._leave(record)
                self._send(status, payload, headers)
            except (BrokenPipeError, ConnectionResetError):
                record.outcome += " (client gone)"
            finally:
                server._leave(record)

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

    return Handler


def _query_key(path: str) -> str | None:
    found = re.search(r"[?&]key=([^&]+)", path)
    return found.group(1) if found else None


def serve(**kwargs: Any) -> Iterator[FakeGeminiServer]:
    """Generator form for fixtures: ``yield from serve(api_key=...)``."""
    server = FakeGeminiServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
