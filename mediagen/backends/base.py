"""What an image backend is: one class, one method to implement.

A backend turns a :class:`GenerationRequest` into a :class:`GenerationResult`
(the raw image bytes as the backend made them, in whatever pixel size it
chose) or raises one of :mod:`mediagen.errors`' backend errors:

- :class:`~mediagen.errors.TransientError`: retried with backoff;
- :class:`~mediagen.errors.BlockedError`: a safety refusal, recorded, never retried;
- :class:`~mediagen.errors.PermanentError` (and ``AuthError``): not retried.

Exact sizing, encoding and metadata happen later, in :mod:`mediagen.imaging.codec`,
so a backend stays small.

A backend also owns what it knows about its provider; the core asks, never
names one. Its own settings (:attr:`Backend.settings_model`: key, endpoint,
timeouts, prices) are read through :meth:`Backend.own_settings`; it declares
its key need (``needs_key``/``key_env_vars``, as simonw/llm's models do) and
answers :meth:`~Backend.has_key` (``auto`` picks a keyed backend),
:meth:`~Backend.secrets` (what logs redact), :meth:`~Backend.unpriced_models`
(a budget needs prices), :meth:`~Backend.retry_window` (how long a request may
wait for a shared slot), :meth:`~Backend.quota_models`, :meth:`~Backend.check_request`
and :meth:`~Backend.catalogue` (``mediagen models``).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from mediagen.settings import Settings


# What a backend takes unless it says otherwise: the most any current Gemini image
# model takes (see mediagen/backends/gemini/catalogue.py).
MAX_REFERENCE_IMAGES = 14


class CallGuard(Protocol):
    """What a backend asks of the run it works for, around each request it sends.

    The engine's ``Run`` implements it: the model's rate limit and the run's abort
    and interrupt flags live there, not in the backend and not in module globals,
    so backends never import the engine (layers point one way).
    """

    def slot(self, model: str) -> AbstractContextManager[object]:
        """Hold one request slot of ``model``; raises when the run has stopped."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait between retries; wakes up (and raises) when the run stops."""
        ...

    def answered(self) -> None:
        """The request just sent has a successful answer (its body may still be read)."""
        ...


class Unguarded:
    """The :class:`CallGuard` of a backend used on its own: no limits, plain sleeps."""

    def slot(self, model: str) -> AbstractContextManager[object]:
        return nullcontext()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def answered(self) -> None:
        pass


@dataclass(frozen=True)
class ReferenceImage:
    """A reference image sent with the prompt (spec ``references``).

    Only ``sha256`` and ``role`` enter the cache key (a moved file asks nothing new;
    changed bytes do). ``data`` is empty in a planned job, which stays small and
    picklable: the engine reads the bytes from ``source`` just before the call and
    checks them against ``sha256`` (:mod:`mediagen.engine.references`).
    """

    sha256: str  # of the bytes
    role: str = ""  # "style" | "subject" | "logo" | "" (none given)
    mime_type: str = "image/png"
    source: str = ""  # "file:/abs/path" or "key:bucket/key": where the bytes are
    colors: tuple[str, ...] = ()  # its dominant colours (#RRGGBB), most first
    data: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to make one image."""

    prompt: str  # the final, composed prompt
    width: int  # the target size; backends may return another size
    height: int
    quality: str  # a mediagen.spec.vocabulary.Quality value
    backend_image_size: str  # "1K" | "2K" | "4K", from the quality level
    theme: str
    palette: tuple[str, ...]  # the theme's hex colours
    brand_colors: tuple[str, ...] = ()  # hex colours the spec asks for
    seed: int | None = None
    model: str | None = None  # None: the backend's default model
    image_id: str = ""  # for logs and errors only; never part of a cache key
    # Models to try, in order, when ``model`` is over capacity or unavailable. Not part
    # of the cache key: any model of the chain answers the same request.
    fallback_models: tuple[str, ...] = ()
    # How to ask (mediagen.spec.delivery: "sync" | "batch" | "flex"), not what: not part
    # of the cache key either. "flex" asks a cheaper, slower tier; a backend that has no
    # such tier treats it as "sync", and refuses models without it in check_request.
    delivery: str = "sync"
    # Reference images, in the spec's order (see ReferenceImage: hashes, not bytes, here).
    references: tuple[ReferenceImage, ...] = ()


@dataclass(frozen=True)
class GenerationResult:
    """One generated image, as the backend returned it."""

    data: bytes
    mime_type: str
    backend: str
    model: str
    ai_generated: bool  # False only for procedural (non-AI) renderers
    usage: dict[str, int] = field(default_factory=dict)  # token counts etc.
    cost_usd: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)
    # The models tried, in order: {"model", "outcome", "reason"} (fallbacks, timeouts).
    # Errors raised by generate() may carry the same list as their ``attempts`` attribute,
    # and paid answers that made no image their ``cost_usd`` and ``usage``.
    attempts: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Description:
    """Alt text written by a backend, and what writing it cost."""

    text: str
    model: str = ""
    usage: dict[str, int] = field(default_factory=dict)  # token counts of the text call
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ModelCatalogue:
    """The models a backend knows, for ``mediagen models``.

    ``records`` are JSON-friendly dicts with at least ``id``, ``kind`` and ``status``
    (``ga`` | ``preview`` | ``deprecated`` | ``retired``); image backends add
    ``shutdown``, ``sizes``, ``image_size_param``, ``usd_per_image``,
    ``batch_usd_per_image``, ``usd_per_million`` and ``default``.
    """

    title: str  # the table's title, e.g. "X models (facts checked 2026-11-29)"
    checked: str  # when the facts were last compared with the provider's pages
    records: list[dict[str, Any]]


class Backend(ABC):
    """Base class of image backends. Subclasses implement :meth:`generate`."""

    #: registry name, e.g. "offline"
    name: ClassVar[str] = ""
    #: model used when neither the spec nor the image names one
    default_model: ClassVar[str] = ""
    #: what writes alt text in :meth:`describe` (part of its cache key: change it, ask again);
    #: a class default that an instance may replace (e.g. from settings)
    describe_model: str = ""
    #: the backend's own settings (a pydantic-settings model), read by :meth:`own_settings`;
    #: options given in code come by field name (give the model ``populate_by_name=True``)
    settings_model: ClassVar[type[BaseSettings] | None] = None
    #: modules that must be installed (checked without importing them) for it to work
    requires: ClassVar[tuple[str, ...]] = ()
    #: it needs an API key, and the variables users set it in (for messages)
    needs_key: ClassVar[bool] = False
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    #: how to add a missing price (a budget cannot be enforced without one)
    pricing_help: ClassVar[str] = ""

    def __init__(self, settings: Settings, calls: CallGuard | None = None) -> None:
        self.settings = settings
        # Rate limits, abort and interrupt of the run this instance works for.
        self.call_guard: CallGuard = calls or Unguarded()

    @abstractmethod
    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Make one image, or raise a :class:`~mediagen.errors.BackendError`."""
        raise NotImplementedError  # abstract

    @classmethod
    def from_options(
        cls, settings: Settings, options: Mapping[str, Any], calls: CallGuard | None = None
    ) -> Backend:
        """An instance whose own settings get ``options`` (e.g. a client's key) on top of
        the environment; the process environment is never written."""
        return cls(settings.with_backend_options(cls.name, options), calls)

    @classmethod
    def own_settings(cls, settings: Settings) -> Any:
        """This backend's :attr:`settings_model`, from the environment and the options the
        caller gave (see :meth:`mediagen.settings.Settings.with_backend_options`)."""
        if cls.settings_model is None:
            return None
        return settings.backend_settings(cls.name, cls.settings_model)

    @classmethod
    def has_key(cls, settings: Settings) -> bool:
        """A key (or a secret holding one) is configured; ``auto`` picks such a backend."""
        return False

    @classmethod
    def secrets(cls, settings: Settings) -> list[str]:
        """Secret values this backend would use: logs and errors redact them."""
        return []

    @classmethod
    def unpriced_models(
        cls, request: GenerationRequest, settings: Settings, *, describes: bool
    ) -> set[str]:
        """Models ``request`` may spend money on whose price is unknown (a budget needs it)."""
        return set()

    @classmethod
    def retry_window(cls, settings: Settings) -> float:
        """Most seconds one request may spend retrying (and waiting for a shared slot)."""
        return 0.0

    @classmethod
    def catalogue(cls, settings: Settings) -> ModelCatalogue | None:
        """The models this backend knows, with status and prices (None: no catalogue)."""
        return None

    @classmethod
    def estimate_cost(cls, request: GenerationRequest, settings: Settings) -> float:
        """Expected price in USD of one :meth:`generate` call (0 when free)."""
        return 0.0

    @classmethod
    def check_configuration(cls, settings: Settings) -> None:
        """Raise ConfigurationError when a run could not start (e.g. no credentials)."""
        return None

    @classmethod
    def quota_models(
        cls, request: GenerationRequest, settings: Settings, *, describes: bool
    ) -> set[str]:
        """The models whose quota ``request`` may spend (``describes``: alt text is asked).

        A provider's quotas are per model and shared by every process of a project,
        so the flow holds one cross-process limit per model named here. None: free.
        """
        return set()

    @classmethod
    def max_reference_images(cls, model: str) -> int:
        """How many reference images one request to ``model`` may carry (0: none)."""
        return MAX_REFERENCE_IMAGES

    @classmethod
    def check_request(cls, request: GenerationRequest) -> str | None:
        """A problem with this request that no call could fix (e.g. an unsupported model)."""
        return None

    def describe(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> str:
        """Alt text for ``image`` (the published crop, ≤ 1024 px) as used for ``purpose``.

        Called only for images whose spec says ``alt_text: auto``, at most once per
        generation and purpose (the answer is cached in the bucket). Return one plain
        sentence under 125 characters (longer answers are clipped); raise backend
        errors as :meth:`generate` does. A :class:`~mediagen.errors.BlockedError`
        (or an empty answer) does not fail the image: it gets a description from
        the prompt instead. This default cannot see pixels: it restates the subject
        the image was asked for. AI backends override it.
        """
        from mediagen.spec.alt_text import from_prompt

        return from_prompt(request.prompt, purpose)

    def describe_with_usage(
        self, image: bytes, mime_type: str, purpose: str, request: GenerationRequest
    ) -> Description:
        """:meth:`describe`, with the model, token usage and cost of the call.

        What the pipeline calls. Backends whose describing costs money override
        this (and have :meth:`describe` return its text); others need not.
        """
        text = self.describe(image, mime_type, purpose, request)
        return Description(text=text, model=self.describe_model)

    def estimate_describe_cost(self) -> float:
        """Expected price in USD of one :meth:`describe_with_usage` call (0 when free)."""
        return 0.0

    def close(self) -> None:  # noqa: B027 - optional hook, empty by design
        """Release clients and connections."""
