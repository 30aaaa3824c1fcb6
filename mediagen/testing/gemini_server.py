"""A local Gemini API server: the REST wire format, real images, scripted faults.

It listens on a random loopback port and answers
``POST /v1beta/models/{model}:generateContent`` the way the Gemini API does,
so the real google-genai SDK (and so mediagen's ``gemini`` backend) can be
pointed at it with ``MEDIAGEN_GEMINI_BASE_URL`` / ``HttpOptions(base_url=...)``.
Images are painted by mediagen's offline renderer at the aspect ratio and
size (512, 1K, 2K, 4K) the request asks for. Every request is recorded (time,
model, body, outcome, the usage it was answered with), and faults can be
scripted per request::

    with FakeGeminiServer(api_key="test-key") as server:
        server.script(Fault.rate_limited(retry_delay=0.2), times=3)
        server.script(Fault.finish("IMAGE_SAFETY"), match="[[unsafe]]")
        server.script(Fault.prompt_blocked(), modality="text")  # the next alt-text call
        ...  # run mediagen with MEDIAGEN_GEMINI_BASE_URL=server.base_url
        assert len(server.requests) == 5

It knows the models of :mod:`mediagen.backends.gemini.catalogue`: a model the
catalogue lists as shut down answers 404 NOT_FOUND (``retire=False`` serves
it anyway), ``retired={...}`` adds more; a size, aspect ratio or ``imageSize``
a model does not take is a 400; answers of Gemini 3 models report thinking
tokens. Text requests (``responseModalities: ["TEXT"]``, or a text model:
how mediagen asks for alt text) get a text answer: ``text_answer(prompt)``
when given, else :func:`default_text_answer`.

It is a test double for development and CI, not a proxy: it never talks to Google.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mediagen.backends.base import GenerationRequest
from mediagen.backends.gemini import catalogue
from mediagen.backends.offline import render
from mediagen.spec.vocabulary import THEMES, Theme
from mediagen.testing import serving
from mediagen.testing.gemini_faults import Fault, Rule, error_answer, html_page
from mediagen.testing.gemini_http import handler_for
from mediagen.testing.gemini_wire import (
    candidate,
    check_image_config,
    default_text_answer,
    image_config,
    inline_parts,
    is_text_request,
    prompt_of,
    service_tier,
    usage,
)

__all__ = [
    "FakeGeminiServer",
    "Fault",
    "RecordedRequest",
    "Rule",
    "default_text_answer",
    "is_text_request",
    "serve",
]

SIZE_SCALE = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}

Answer = tuple[int, "dict[str, Any] | bytes", dict[str, str], str, float]


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
    usage: dict[str, Any] = field(default_factory=dict)  # usageMetadata answered (200 only)

    @property
    def image_config(self) -> dict[str, Any]:
        return image_config(self.body)

    @property
    def service_tier(self) -> str:
        """The tier asked for ("flex"), "" for the standard tier: what the SDK sent."""
        return service_tier(self.body)

    @property
    def is_text(self) -> bool:
        """A request for text (alt text), not for an image."""
        return is_text_request(self.model, self.body)

    @property
    def inline_data(self) -> list[tuple[str, bytes]]:
        """(mime type, bytes) of each inline part sent (the image to describe)."""
        return inline_parts(self.body)


@dataclass
class _State:
    rules: list[Rule] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class FakeGeminiServer:
    """A threaded HTTP server speaking Gemini's REST API on 127.0.0.1.

    ``api_key``: the key it accepts (None: any). ``models``: the models it
    knows (None: any name); others answer 404 NOT_FOUND, as do ``retired``
    models and (``retire=True``) those the catalogue says were shut down. ``image_side``: the
    long side of 1K images (2K/4K are larger, up to ``max_side``).
    ``text_answer``: the text of text answers, a string or a function of the
    prompt (default: :func:`default_text_answer`). ``flex_delay``: seconds every
    Flex-tier answer is held back (the real tier takes 1-15 minutes; default 0).
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
        retire: bool = True,
        retired: set[str] | None = None,
        flex_delay: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.models = models
        self.retire = retire
        self.retired = set(retired or ())
        self.image_side = image_side
        self.max_side = max_side
        self.text_answer = text_answer
        self.flex_delay = flex_delay
        self._state = _State()
        self._lock = threading.Lock()
        self._httpd = serving.http_server(host, handler_for(self))
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return serving.base_url(self._httpd)

    def start(self) -> FakeGeminiServer:
        if self._thread is None:
            self._thread = serving.serve(self._httpd, "fake-gemini")
        return self

    def stop(self) -> None:
        serving.shut_down(self._httpd, self._thread)
        self._thread = None

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

    def is_retired(self, model: str) -> bool:
        if model in self.retired:
            return True
        info = catalogue.lookup(model)
        return self.retire and info is not None and info.status_on() == "retired"

    def answer(self, model: str, body: dict[str, Any], api_key: str | None) -> Answer:
        """(status, JSON body or HTML bytes, extra headers, outcome label, delay)."""
        prompt = prompt_of(body)
        text = is_text_request(model, body)
        problem = None if text else check_image_config(model, body)
        fault: Fault | None
        if self.api_key is not None and api_key != self.api_key:
            fault = Fault.bad_key()
        elif (self.models is not None and model not in self.models) or self.is_retired(model):
            fault = Fault.error(
                404,
                f"models/{model} is not found for API version v1beta, "
                "or is not supported for generateContent.",
            )
        elif problem:
            fault = Fault.error(400, problem)
        else:
            fault = self._take_fault(model, prompt, "text" if text else "image")
        if fault is None:
            fault = Fault("image", delay=self.flex_delay if service_tier(body) == "flex" else 0.0)
        if fault.kind == "error":
            label = f"error {fault.status} {fault.status_name}".rstrip()
            if fault.html:
                return fault.status, html_page(fault), {}, label + " html", fault.delay
            return (*error_answer(fault), label, fault.delay)
        if text and fault.kind in ("image", "delay", "text"):
            answer = fault.message if fault.kind == "text" else self.text_for(prompt)
            meta = usage(model, prompt, body, image=False, text=answer)
            return 200, candidate([{"text": answer}], meta), {}, "text", fault.delay
        if fault.kind == "block":
            feedback = {"blockReason": fault.reason}
            if fault.message:
                feedback["blockReasonMessage"] = fault.message
            meta = usage(model, prompt, body, image=False, thinking=False)
            return 200, {"promptFeedback": feedback, "usageMetadata": meta}, {}, \
                f"block {fault.reason}", 0.0  # fmt: skip
        if fault.kind == "finish":
            # An image refused after it was made (IMAGE_SAFETY...) still reports its tokens.
            meta = usage(model, prompt, body, image=fault.reason.startswith("IMAGE_"))
            refused: dict[str, Any] = {
                "content": {"role": "model", "parts": []},
                "finishReason": fault.reason,
                "index": 0,
            }
            if fault.message:
                refused["finishMessage"] = fault.message
            return 200, {"candidates": [refused], "usageMetadata": meta}, {}, \
                f"finish {fault.reason}", 0.0  # fmt: skip
        if fault.kind == "text":
            meta = usage(model, prompt, body, image=False, text=fault.message)
            return 200, candidate([{"text": fault.message}], meta), {}, "text", 0.0
        meta = usage(model, prompt, body, image=fault.kind in ("image", "delay"))
        parts: list[dict[str, Any]] = []
        if fault.text_first:
            parts.append({"text": "Here is the image you asked for.", **_thought(fault)})
        if fault.data:
            data, width, height = fault.data, 0, 0
        else:
            data, width, height = self._image(model, prompt, body)
        if fault.usage is not None:
            meta = fault.usage
        image_part: dict[str, Any] = {
            "inlineData": {"mimeType": fault.mime_type, "data": base64.b64encode(data).decode()}
        }
        parts.append({**image_part, **_thought(fault)})
        label = f"image {width}x{height}" + (" thought" if fault.thought else "")
        return 200, candidate(parts, meta), {}, label, fault.delay

    def text_for(self, prompt: str) -> str:
        """The text a text request with this prompt is answered with."""
        if self.text_answer is None:
            return default_text_answer(prompt)
        if isinstance(self.text_answer, str):
            return self.text_answer
        return self.text_answer(prompt)

    def _image(self, model: str, prompt: str, body: dict[str, Any]) -> tuple[bytes, int, int]:
        config = image_config(body)
        width, height = self.pixel_size(
            config.get("aspectRatio") or "1:1", config.get("imageSize") or "1K"
        )
        request = GenerationRequest(
            prompt=prompt,
            width=width,
            height=height,
            quality="standard",
            backend_image_size=config.get("imageSize") or "1K",
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
        scale = SIZE_SCALE.get(image_size, 1.0)
        area = (self.image_side * scale) ** 2
        width, height = math.sqrt(area * w / h), math.sqrt(area * h / w)
        shrink = min(1.0, self.max_side / max(width, height))
        return max(16, round(width * shrink)), max(16, round(height * shrink))


def _thought(fault: Fault) -> dict[str, Any]:
    return {"thought": True} if fault.thought else {}


def serve(**kwargs: Any) -> Iterator[FakeGeminiServer]:
    """Generator form for fixtures: ``yield from serve(api_key=...)``."""
    server = FakeGeminiServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()
