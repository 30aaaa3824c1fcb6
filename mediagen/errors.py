"""The one exception hierarchy of mediagen.

Every error a user can meet derives from :class:`MediagenError`. Errors from
third-party libraries (google-genai, botocore, Pillow, OSError) are translated
at the boundary with ``raise X from exc`` so callers only ever catch these::

    MediagenError
    ├── SpecError              bad spec or settings: fix the input (CLI exit 2)
    ├── ConfigurationError     a setting or credential is missing or wrong
    ├── BackendError           the image backend failed
    │   ├── TransientError     worth retrying: 429, 5xx, timeouts, resets
    │   ├── BlockedError       refused by a safety filter: never retried
    │   └── PermanentError     retrying cannot help: 400, no image, bad answer
    │       ├── AuthError      the key is refused: stop the whole run
    │       ├── ModelUnavailableError  404 / unknown model: a fallback model may help
    │       └── BadAnswerError an answer that is no usable image: never cached
    ├── RunAbortedError        the run was stopped (bad key): image not attempted
    │   └── RunInterruptedError  Ctrl-C / SIGTERM / cancel: image left pending
    ├── BudgetExceededError    the spec's budget_usd does not cover the work
    ├── SpecBusyError          another run of the spec holds its lease (CLI exit 2)
    ├── StorageError           the bucket failed
    │   ├── TransientStorageError  throttling, 5xx, resets: retried
    │   ├── PreconditionFailed     a conditional write lost a race (If-Match / If-None-Match)
    │   └── ConditionsUnsupported  the store rejects conditional writes (501)
    ├── ProcessingError        Pillow could not read or encode an image
    └── OrchestrationError     the Prefect server could not be reached or refused

``FileNotFoundError`` is used as-is for missing spec files and objects.

Only the classes live here. The translation of a library's errors into them
happens where the library is called, like httpx's ``map_httpcore_exceptions()``:
storage in :func:`mediagen.storage.error_map.map_storage_exceptions`, a backend's
in its own package (e.g. ``mediagen.backends.gemini.errors``). A subclass that
only one layer raises (``mediagen.manifest.prefix_owner.PrefixConflict``) stays
in that layer and derives from a class here, so ``except MediagenError`` still
catches it.
"""

from __future__ import annotations


class MediagenError(Exception):
    """Base of every error mediagen raises on purpose."""


class SpecError(MediagenError, ValueError):
    """A spec (or inline spec mapping) is invalid.

    ``problems`` holds one human-readable line per problem, each already
    naming the file, line and field where they are known.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]

    def __str__(self) -> str:
        head = self.args[0]
        if self.problems == [head]:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class ConfigurationError(MediagenError):
    """A setting, credential or optional dependency is missing or wrong."""


class BackendError(MediagenError):
    """An image backend could not produce an image."""


class TransientError(BackendError):
    """A failure that may succeed later (rate limit, 5xx, timeout).

    ``retry_after`` is the delay in seconds the server asked for, if any.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BlockedError(BackendError):
    """The backend refused the prompt or the image (safety). Never retried."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"blocked: {reason}" + (f" ({message})" if message else ""))
        self.reason = reason
        self.detail = message


class PermanentError(BackendError):
    """A failure that retrying cannot fix (bad request, no image in the answer)."""


class AuthError(PermanentError):
    """The backend refused the credentials: every further call would fail too."""


class ModelUnavailableError(PermanentError):
    """The model does not exist or is not served (404): a fallback model may help."""


class BadAnswerError(PermanentError):
    """The backend answered with bytes that are no usable image (they do not decode, are
    not a raster format, or are over a size cap). Never cached: the next run asks again."""


class RunAbortedError(MediagenError):
    """The run was stopped (e.g. the backend refused the key); this image was not made."""


class RunInterruptedError(RunAbortedError):
    """The run was interrupted (Ctrl-C, SIGTERM, a cancel) before this image reached the
    backend: it is recorded ``pending`` and made by the next run."""


class BudgetExceededError(MediagenError):
    """Making this (or the planned) work would spend more than the spec's ``budget_usd``."""

    def __init__(self, message: str, budget_usd: float = 0.0, needed_usd: float = 0.0) -> None:
        super().__init__(message)
        self.budget_usd = budget_usd
        self.needed_usd = needed_usd


class SpecBusyError(MediagenError):
    """Another run of the same spec (bucket and prefix) is in flight
    (see ``mediagen.storage.lease``).

    ``holder`` is its :class:`mediagen.storage.lease.Holder`: host, pid, run id, since when.
    """

    def __init__(self, message: str, holder: object | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class StorageError(MediagenError):
    """The bucket could not be read or written."""


class TransientStorageError(StorageError):
    """Throttling (503 SlowDown), 5xx or a reset connection: worth retrying."""


class PreconditionFailed(StorageError):
    """A conditional write lost a race: the object changed (or appeared) since it was read."""


class ConditionsUnsupported(StorageError):
    """The store rejected If-Match / If-None-Match (501 NotImplemented)."""


class ProcessingError(MediagenError):
    """An image could not be decoded, resized or encoded."""


class OrchestrationError(MediagenError):
    """The Prefect server could not be reached, or refused a request."""
