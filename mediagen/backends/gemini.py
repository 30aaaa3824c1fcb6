"""The ``gemini`` backend: Gemini image models through the google-genai SDK.

One image is one ``client.models.generate_content`` call with
``response_modalities=["IMAGE"]`` and an ``ImageConfig``: the supported aspect
ratio nearest the target, and the image size (1K/2K/4K) of the quality level
for models that take one. The model returns its own pixel size; processing
crops and resizes to the exact target.

Around each call, in order: the model chain (``model: [a, b]`` falls back on
capacity or availability errors, never on safety blocks), retries
(:mod:`mediagen.retry_policy`, honouring the server's delay), the model's rate
limit (:mod:`mediagen.ratelimit`). Answers are read by
:mod:`mediagen.backends.gemini_response`: an image, a :class:`BlockedError`
(never retried) or a clear :class:`PermanentError`.

Alt text (``alt_text: auto``) is one more ``generate_content`` call, to a
text model (``MEDIAGEN_GEMINI_DESCRIBE_MODEL``, default ``gemini-2.5-flash``):
the published picture and :func:`mediagen.alt_text.describe_prompt`, answered
with ``response_modalities=["TEXT"]``. It goes through the same rate limiter,
retries and error translation as an image, and is priced from its usage.

Imagen (``generate_images``) is not supported: current SDKs refuse it in
API-key mode and Google is retiring it; ``imagen-*`` models are rejected when
the spec is expanded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from google import genai
from google.genai import types

from mediagen import alt_text, credentials, pricing, ratelimit, redaction
from mediagen.backends.base import Backend, Description, GenerationRequest, GenerationResult
from mediagen.backends.gemini_errors import translate
from mediagen.backends.gemini_response import parse_answer, parse_text
from mediagen.errors import (
    BlockedError,
    ConfigurationError,
    ModelUnavailableError,
    PermanentError,
    TransientError,
)
from mediagen.reasons import short_reason
from mediagen.retry_policy import RetryPolicy, call_with_retries
from mediagen.settings import Settings

logger = logging.getLogger("mediagen")

API_VERSION = "v1beta"
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# Models with one fixed output size: they take an aspect ratio but no image_size.
FIXED_SIZE_MODELS = frozenset({"gemini-2.5-flash-image", "gemini-2.5-flash-image-preview"})
# One alt-text call, for the budget: a ≤1024 px picture is at most 4 tiles of 258 tokens,
# plus the instruction; a sentence of output plus some thinking.
DESCRIBE_INPUT_TOKENS = 1_200
DESCRIBE_OUTPUT_TOKENS = 600


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The supported aspect ratio closest to width:height (compared as log ratios)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ASPECT_RATIOS, key=distance)


def image_size_for(model: str, request: GenerationRequest) -> str | None:
    """The image_size to send (None for models with a fixed size)."""
    return None if model in FIXED_SIZE_MODELS else request.backend_image_size


def model_chain(request: GenerationRequest, default: str) -> list[str]:
    chain = [request.model or default, *request.fallback_models]
    return list(dict.fromkeys(chain))  # each model once, in order


def base_url(settings: Settings) -> str | None:
    """MEDIAGEN_GEMINI_BASE_URL (None: Google's endpoint); ConfigurationError if malformed."""
    url = (settings.gemini_base_url or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"MEDIAGEN_GEMINI_BASE_URL must start with http:// or https://, got {url!r}"
        )
    return url


class GeminiBackend(Backend):
    """Gemini image models (default ``gemini-2.5-flash-image``)."""

    name: ClassVar[str] = "gemini"
    default_model: ClassVar[str] = "gemini-2.5-flash-image"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.describe_model = settings.gemini_describe_model
        key = credentials.gemini_api_key(settings).get_secret_value()
        self._key = key
        redaction.register(key)  # scrubbed from every error and reason from now on
        self._client = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=base_url(settings),
                api_version=API_VERSION,
                timeout=int(settings.gemini_timeout * 1000),
            ),
        )
        self._policy = RetryPolicy(
            max_attempts=settings.gemini_max_attempts,
            max_wait=settings.gemini_max_wait,
            base_delay=settings.gemini_retry_base_delay,
        )

    # -- checks before any work -----------------------------------------------------

    @classmethod
    def check_configuration(cls, settings: Settings) -> None:
        if not credentials.has_gemini_credentials(settings):
            credentials.gemini_api_key(settings)  # raises with the how-to message
        base_url(settings)

    @classmethod
    def check_request(cls, request: GenerationRequest) -> str | None:
        for model in model_chain(request, cls.default_model):
            if model.startswith(("imagen", "models/imagen")):
                return (
                    f"model {model!r}: Imagen is not supported (the SDK refuses "
                    "generate_images with an API key, and Google is retiring Imagen); "
                    f"use a Gemini image model such as {cls.default_model!r} "
                    "or 'gemini-3-pro-image-preview'"
                )
        return None

    @classmethod
    def estimate_cost(cls, request: GenerationRequest, settings: Settings) -> float:
        model = request.model or cls.default_model
        size = image_size_for(model, request) or "1K"
        return pricing.estimate_usd(model, size, request.prompt, settings.gemini_pricing)

    # -- generation ---------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> GenerationResult:
        models = model_chain(request, self.default_model)
        for index, model in enumerate(models):
            try:
                result = call_with_retries(
                    lambda model=model: self._call(model, request),  # type: ignore[misc]
                    self._policy,
                    what=f"{request.image_id or 'image'} on {model}",
                )
            except (TransientError, ModelUnavailableError) as exc:
                if index + 1 == len(models):
                    raise
                logger.warning(
                    "%s: %s (%s); falling back to %s",
                    request.image_id or "image",
                    model,
                    exc,
                    models[index + 1],
                )
                continue
            if index:
                result.metadata["fallback_from"] = ",".join(models[:index])
            return result
        raise AssertionError("unreachable: the chain has at least one model")

    def _call(self, model: str, request: GenerationRequest) -> GenerationResult:
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            # The raw answer: see gemini_response for why it is read as JSON.
            should_return_http_response=True,
            image_config=types.ImageConfig(
                aspect_ratio=nearest_aspect_ratio(request.width, request.height),
                image_size=image_size_for(model, request),
            ),
        )
        body = self._send(model, request.prompt, config)
        with self._redacted():
            answer = parse_answer(body, model)
        return GenerationResult(
            data=answer.data,
            mime_type=answer.mime_type,
            backend=self.name,
            model=model,
            ai_generated=True,
            usage=answer.usage,
            cost_usd=pricing.cost_usd(model, answer.usage, self.settings.gemini_pricing),
            metadata={"model_version": answer.model_version},
        )

    # -- alt text ---------------------------------------------------------------------

    def describe(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> str:
        return self.describe_with_usage(image, mime_type, purpose, request).text

    def describe_with_usage(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> Description:
        """Ask the text model for alt text (retried like an image; blocks raise BlockedError)."""
        model = self.describe_model
        return call_with_retries(
            lambda: self._describe_once(model, image, mime_type, purpose),
            self._policy,
            what=f"alt text of {request.image_id or 'image'} on {model}",
        )

    def _describe_once(self, model: str, image: bytes, mime_type: str, purpose: str) -> Description:
        contents = [
            types.Part.from_bytes(data=image, mime_type=mime_type),
            alt_text.describe_prompt(purpose),
        ]
        config = types.GenerateContentConfig(
            response_modalities=["TEXT"], should_return_http_response=True
        )
        body = self._send(model, contents, config)
        with self._redacted():
            answer = parse_text(body, model)
        return Description(
            text=answer.text,
            model=model,
            usage=answer.usage,
            cost_usd=pricing.cost_usd(model, answer.usage, self.settings.gemini_pricing),
        )

    def estimate_describe_cost(self) -> float:
        return pricing.estimate_text_usd(
            self.describe_model,
            DESCRIBE_INPUT_TOKENS,
            DESCRIBE_OUTPUT_TOKENS,
            self.settings.gemini_pricing,
        )

    # -- one request ----------------------------------------------------------------

    def _send(
        self, model: str, contents: object, config: types.GenerateContentConfig
    ) -> str | None:
        """One request under the model's rate limit; the raw JSON answer, or our error."""
        with ratelimit.request_slot(model, self.settings.rate_limits):
            try:
                response = self._client.models.generate_content(
                    model=model,
                    contents=contents,  # type: ignore[arg-type]
                    config=config,
                )
            except Exception as exc:
                translated = translate(exc, model, self._redact)
                if translated is None and not redaction.leaks(exc):
                    raise
                # The SDK's error holds the answer (which may echo the key) and the request:
                # scrub it and keep it out of tracebacks (see mediagen.redaction).
                redaction.scrub(exc)
                raise (translated or PermanentError(short_reason(exc))) from None
        http = response.sdk_http_response
        return http.body if http is not None else None

    @contextmanager
    def _redacted(self) -> Iterator[None]:
        """Scrub the key from the messages of errors raised while reading an answer."""
        try:
            yield
        except BlockedError as exc:
            raise BlockedError(exc.reason, self._redact(exc.detail)) from None
        except PermanentError as exc:
            raise PermanentError(self._redact(str(exc))) from None

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def close(self) -> None:
        self._client.close()
