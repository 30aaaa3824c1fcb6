"""mediagen: declarative YAML image specs → published, on-brand images.

The public surface is this module: ``from mediagen import MediaClient, SpecError``.
Every name in :data:`__all__` is supported; the subpackages (``mediagen.spec``,
``mediagen.engine``, …) are the implementation and may change.

``import mediagen`` stays light: it loads the exception tree only; the API
(pydantic, Pillow, the backends) is imported on first use of one of its names
(PEP 562). The library never imports Prefect; the flows in the ``flows``
package wrap it.
"""

from mediagen.errors import (
    AuthError,
    BackendError,
    BadAnswerError,
    BlockedError,
    BudgetExceededError,
    ConditionsUnsupported,
    ConfigurationError,
    MediagenError,
    ModelUnavailableError,
    OrchestrationError,
    PermanentError,
    PreconditionFailed,
    ProcessingError,
    RunAbortedError,
    RunInterruptedError,
    SpecBusyError,
    SpecError,
    StorageError,
    TransientError,
    TransientStorageError,
)

# Name -> the module that defines it, imported on first use.
_LAZY = {
    "BrandConfig": "mediagen.client.config",
    "ClientConfig": "mediagen.client.config",
    "ClientStats": "mediagen.client.media_client",
    "GeminiConfig": "mediagen.client.config",
    "GeneratedImage": "mediagen.client.results",
    "JobSpec": "mediagen.spec.models",
    "MediaClient": "mediagen.client.media_client",
    "Published": "mediagen.client.results",
    "StorageConfig": "mediagen.client.config",
    "generate_to_file": "mediagen.client.api",
    "get_client": "mediagen.client.api",
    "load_spec": "mediagen.spec.models",
    "set_default_client": "mediagen.client.api",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once: later lookups don't come back here
        return value
    raise AttributeError(f"module 'mediagen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


from mediagen._version import __version__  # noqa: E402  (pyproject.toml is the one source)

__all__ = [
    "AuthError",
    "BackendError",
    "BadAnswerError",
    "BlockedError",
    "BrandConfig",
    "BudgetExceededError",
    "ClientConfig",
    "ClientStats",
    "ConditionsUnsupported",
    "ConfigurationError",
    "GeminiConfig",
    "GeneratedImage",
    "JobSpec",
    "MediaClient",
    "MediagenError",
    "ModelUnavailableError",
    "OrchestrationError",
    "PermanentError",
    "PreconditionFailed",
    "ProcessingError",
    "Published",
    "RunAbortedError",
    "RunInterruptedError",
    "SpecBusyError",
    "SpecError",
    "StorageConfig",
    "StorageError",
    "TransientError",
    "TransientStorageError",
    "__version__",
    "generate_to_file",
    "get_client",
    "load_spec",
    "set_default_client",
]
