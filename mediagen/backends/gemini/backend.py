"""The ``gemini`` backend: Gemini image models through the google-genai SDK.

One image is one ``client.models.generate_content`` call with
``response_modalities=["IMAGE"]`` and an ``ImageConfig``: the supported aspect
ratio nearest the target, and the image size (1K/2K/4K) of the quality level
for models that take one. The model returns its own pixel size; processing
crops and resizes to the exact target.

Around each call, in order: the model chain (``model: [a, b]`` falls back on
capacity or availability errors, never on safety blocks), retries
(:mod:`mediagen.backends.retry`, honouring the server's delay), the model's rate
limit (the run's :class:`~mediagen.backends.base.CallGuard`). Answers are read by
:mod:`mediagen.backends.gemini.response`: an image, a :class:`BlockedError`
(never retried) or a clear :class:`PermanentError`.

Model facts (sizes, ratios, whether ``imageSize`` is taken, lifecycle, prices)
come from :mod:`mediagen.backends.gemini.catalogue`. A model that answers 404
is reported as retired when the catalogue says it was shut down (with its
replacement), and the chain goes on to the next model. Every model tried is
recorded (``GenerationResult.attempts``, or the ``attempts`` attribute of the
error raised), and an answer that was paid for but made no image (a safety
block with usage, a text-only answer) carries its ``cost_usd`` and ``usage``.

Alt text (``alt_text: auto``) is one more ``generate_content`` call, to a
text model (``MEDIAGEN_GEMINI_DESCRIBE_MODEL``, default the catalogue's
``DEFAULT_TEXT_MODEL``): the published picture and
:func:`mediagen.spec.alt_text.describe_prompt`, answered with
``response_modalities=["TEXT"]``. It goes through the same rate limiter,
retries and error translation as an image, and is priced from its usage.

Imagen (``generate_images``) is not supported: the catalogue lists it as
retired, so ``imagen-*`` models are refused when the spec is expanded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from mediagen import redaction
from mediagen.backends.base import (
    Backend,
    CallGuard,
    Description,
    GenerationRequest,
    GenerationResult,
    ModelCatalogue,
)
from mediagen.backends.gemini import attempts as attempts_
from mediagen.backends.gemini import catalogue, credentials, flex, listing, pricing
from mediagen.backends.gemini import references as refs
from mediagen.backends.gemini.response import parse_answer, parse_text
from mediagen.backends.gemini.settings import GeminiSettings, base_url
from mediagen.backends.gemini.sizes import (  # re-exported for callers and tests
    aspect_ratios_of,
    image_size_for,
    nearest_aspect_ratio,
    priced_size,
)
from mediagen.backends.retry import RetryPolicy, call_with_retries
from mediagen.errors import (
    BackendError,
    BlockedError,
    ModelUnavailableError,
    PermanentError,
    TransientError,
)
from mediagen.reasons import short_reason
from mediagen.settings import Settings
from mediagen.spec import alt_text

if TYPE_CHECKING:
    from google.genai import types

# google-genai (seconds to import) is imported when a backend instance is built, not
# with this class: the core asks the class about keys, prices and models without it.

logger = logging.getLogger("mediagen")

API_VERSION = "v1beta"
# One alt-text call, for the budget: a ≤1024 px picture is at most 4 tiles of 258 tokens,
# plus the instruction; a sentence of output plus some thinking.
DESCRIBE_INPUT_TOKENS = 1_200
DESCRIBE_OUTPUT_TOKENS = 600


def model_chain(request: GenerationRequest, default: str) -> list[str]:
    chain = [request.model or default, *request.fallback_models]
    return list(dict.fromkeys(chain))  # each model once, in order


class GeminiBackend(Backend):
    """Gemini image models (default: the catalogue's ``DEFAULT_IMAGE_MODEL``)."""

    name: ClassVar[str] = "gemini"
    default_model: ClassVar[str] = catalogue.DEFAULT_IMAGE_MODEL
    settings_model: ClassVar[type[GeminiSettings]] = GeminiSettings
    requires: ClassVar[tuple[str, ...]] = ("google.genai",)
    needs_key: ClassVar[bool] = True
    key_env_vars: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    pricing_help: ClassVar[str] = "add it with MEDIAGEN_GEMINI_PRICING"

    def __init__(self, settings: Settings, calls: CallGuard | None = None) -> None:
        from google import genai
        from google.genai import types

        super().__init__(settings, calls)
        own = self.own_settings(settings)
        self._own = own
        self.describe_model = own.describe_model
        key = credentials.gemini_api_key(own).get_secret_value()
        self._key = key
        redaction.register(key)  # scrubbed from every error and reason from now on
        self._client = genai.Client(
            api_key=key,
            http_options=types.HttpOptions(
                base_url=base_url(own),
                api_version=API_VERSION,
                timeout=int(own.timeout * 1000),
                # The run's slot goes to the next image as the answer's headers arrive.
                client_args={"event_hooks": {"response": [self._answered]}},
            ),
        )
        self._policy = RetryPolicy(
            max_attempts=own.max_attempts,
            max_wait=own.max_wait,
            base_delay=own.retry_base_delay,
        )

    def _answered(self, response: Any) -> None:
        if 200 <= response.status_code < 300:  # an error is retried under the same slot
            self.call_guard.answered()

    @classmethod
    def own_settings(cls, settings: Settings) -> GeminiSettings:
        return settings.backend_settings(cls.name, GeminiSettings)

    # -- what the core asks before any work ----------------------------------------------

    @classmethod
    def has_key(cls, settings: Settings) -> bool:
        return credentials.has_gemini_credentials(cls.own_settings(settings))

    @classmethod
    def secrets(cls, settings: Settings) -> list[str]:
        key = cls.own_settings(settings).api_key
        return [key.get_secret_value()] if key is not None else []

    @classmethod
    def quota_models(
        cls, request: GenerationRequest, settings: Settings, *, describes: bool
    ) -> set[str]:
        models = {m for m in (request.model or "", *request.fallback_models) if m}
        if describes:  # alt text shares the text model's quota
            models.add(cls.own_settings(settings).describe_model)
        return models

    @classmethod
    def unpriced_models(
        cls, request: GenerationRequest, settings: Settings, *, describes: bool
    ) -> set[str]:
        own = cls.own_settings(settings)
        models = {m for m in (request.model or "", *request.fallback_models) if m}
        if describes:
            models.add(own.describe_model)
        return {m for m in models if pricing.price_for(m, own.pricing) is None}

    @classmethod
    def retry_window(cls, settings: Settings) -> float:
        own = cls.own_settings(settings)  # a flex request may hold a slot for minutes
        return max(own.max_wait, own.flex_max_wait)

    @classmethod
    def check_request(cls, request: GenerationRequest) -> str | None:
        """Retired and Imagen models, and flex (or batch) on a model without it, are refused
        before any work (with what to use instead)."""
        chain = (request.model or "", *request.fallback_models)
        return catalogue.chain_problem(chain) or flex.request_problem(request)

    @classmethod
    def catalogue(cls, settings: Settings) -> ModelCatalogue:
        return listing.model_catalogue(cls.own_settings(settings).pricing)

    @classmethod
    def check_configuration(cls, settings: Settings) -> None:
        own = cls.own_settings(settings)
        if not credentials.has_gemini_credentials(own):
            credentials.gemini_api_key(own)  # raises with the how-to message
        base_url(own)
        state = catalogue.lifecycle(own.describe_model)
        if state.level != "ok":  # alt text falls back to the prompt's subject: say why now
            logger.warning("MEDIAGEN_GEMINI_DESCRIBE_MODEL: %s", state.message)

    @classmethod
    def estimate_cost(cls, request: GenerationRequest, settings: Settings) -> float:
        model = request.model or cls.default_model
        size = priced_size(model, request)
        return pricing.estimate_usd(
            model, size, request.prompt, cls.own_settings(settings).pricing, request.delivery,
            input_images=len(request.references), extra_characters=refs.label_characters(request),
        )  # fmt: skip

    @classmethod
    def max_reference_images(cls, model: str) -> int:
        return catalogue.max_reference_images(model)

    # -- generation ---------------------------------------------------------------

    def generate(self, request: GenerationRequest) -> GenerationResult:
        models = model_chain(request, self.default_model)
        attempts: list[dict[str, str]] = []
        policy = flex.retry_policy(request, self._own, self._policy)  # flex: minutes, not seconds
        for index, model in enumerate(models):
            try:
                result = call_with_retries(
                    lambda model=model: self._call(model, request, attempts),  # type: ignore[misc]
                    policy,
                    sleep=self.call_guard.sleep,
                    what=f"{request.image_id or 'image'} on {model}",
                )
            except (TransientError, ModelUnavailableError) as exc:
                error = attempts_.retired_error(model, exc) or exc
                attempts.append(attempts_.attempt(model, error))
                if index + 1 == len(models):
                    error.attempts = attempts  # type: ignore[attr-defined]
                    if error is exc:
                        raise
                    raise error from exc
                logger.warning(
                    "%s: %s (%s); falling back to %s",
                    request.image_id or "image",
                    model,
                    error,
                    models[index + 1],
                )
                continue
            except BackendError as exc:  # blocked, refused, bad request: no fallback
                attempts.append(attempts_.attempt(model, exc))
                exc.attempts = attempts  # type: ignore[attr-defined]
                raise
            attempts.append({"model": model, "outcome": "ok", "reason": ""})
            if index:
                result.metadata["fallback_from"] = ",".join(models[:index])
            return replace(result, attempts=tuple(attempts))
        raise AssertionError("unreachable: the chain has at least one model")

    def _call(
        self, model: str, request: GenerationRequest, attempts: list[dict[str, str]] | None = None
    ) -> GenerationResult:
        from google.genai import types

        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            # The raw answer: see gemini_response for why it is read as JSON.
            should_return_http_response=True,
            image_config=types.ImageConfig(
                aspect_ratio=nearest_aspect_ratio(
                    request.width, request.height, aspect_ratios_of(model)
                ),
                image_size=image_size_for(model, request),
            ),
            **flex.config_fields(request, self._own),  # delivery: flex (tier, longer timeout)
        )
        body = self._send(model, refs.contents(request), config, attempts)
        asked = flex.served_as(request, "")
        try:
            with self._redacted():
                answer = parse_answer(body, model)
        except (BlockedError, PermanentError) as exc:
            # A 200 answer without an image is billed all the same (prompt, thinking, and
            # for IMAGE_SAFETY often the image tokens): carry what it cost.
            usage = attempts_.usage_of_body(body)
            exc.usage = usage  # type: ignore[attr-defined]
            exc.cost_usd = pricing.cost_usd(model, usage, self._own.pricing, asked)  # type: ignore[attr-defined]
            exc.model = model  # type: ignore[attr-defined]
            raise
        served = flex.served_as(request, answer.service_tier)
        return GenerationResult(
            data=answer.data,
            mime_type=answer.mime_type,
            backend=self.name,
            model=model,
            ai_generated=True,
            usage=answer.usage,
            cost_usd=pricing.cost_usd(model, answer.usage, self._own.pricing, served),
            metadata={"model_version": answer.model_version, "delivery": served},
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
            sleep=self.call_guard.sleep,
            what=f"alt text of {request.image_id or 'image'} on {model}",
        )

    def _describe_once(self, model: str, image: bytes, mime_type: str, purpose: str) -> Description:
        from google.genai import types

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
            cost_usd=pricing.cost_usd(model, answer.usage, self._own.pricing),
        )

    def estimate_describe_cost(self) -> float:
        return pricing.estimate_text_usd(
            self.describe_model,
            DESCRIBE_INPUT_TOKENS,
            DESCRIBE_OUTPUT_TOKENS,
            self._own.pricing,
        )

    # -- one request ----------------------------------------------------------------

    def _send(
        self,
        model: str,
        contents: object,
        config: types.GenerateContentConfig,
        attempts: list[dict[str, str]] | None = None,
    ) -> str | None:
        """One request under the model's rate limit; the raw JSON answer, or our error.

        A request that got no answer (timeout, connection lost) may still have been
        billed: it is noted in ``attempts`` as a ``timeout``, its cost unknown.
        """
        from mediagen.backends.gemini.errors import OTHER_TRANSPORT, TRANSIENT_TRANSPORT, translate

        with self.call_guard.slot(model):
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
                error = translated or PermanentError(short_reason(exc))
                if attempts is not None and isinstance(exc, TRANSIENT_TRANSPORT + OTHER_TRANSPORT):
                    attempts.append(
                        {"model": model, "outcome": "timeout", "reason": str(error)[:300]}
                    )
                raise error from None
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
