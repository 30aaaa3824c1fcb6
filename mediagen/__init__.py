"""mediagen: declarative YAML image specs → published, on-brand images.

The library never imports Prefect; the flows in the ``flows`` package wrap it.
"""

from mediagen.errors import (
    AuthError,
    BackendError,
    BlockedError,
    BudgetExceededError,
    ConfigurationError,
    MediagenError,
    ModelUnavailableError,
    PermanentError,
    ProcessingError,
    RunAbortedError,
    SpecError,
    StorageError,
    TransientError,
    TransientStorageError,
)
from mediagen.spec.models import JobSpec, load_spec

# The Python API (issue 7). Imported lazily (PEP 562): ``import mediagen`` stays
# light, and the API pulls in no Prefect either way.
_API = {
    "MediaClient": "mediagen.client.media_client",
    "ClientConfig": "mediagen.client.config",
    "GeminiConfig": "mediagen.client.config",
    "StorageConfig": "mediagen.client.config",
    "BrandConfig": "mediagen.client.config",
    "GeneratedImage": "mediagen.client.results",
    "Published": "mediagen.client.results",
    "get_client": "mediagen.client.api",
    "set_default_client": "mediagen.client.api",
}


def __getattr__(name: str) -> object:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'mediagen' has no attribute {name!r}")


from mediagen._version import __version__  # noqa: E402  (pyproject.toml is the one source)

__all__ = [
    *_API,
    "AuthError",
    "BackendError",
    "BlockedError",
    "BudgetExceededError",
    "ConfigurationError",
    "JobSpec",
    "MediagenError",
    "ModelUnavailableError",
    "PermanentError",
    "ProcessingError",
    "RunAbortedError",
    "SpecError",
    "StorageError",
    "TransientError",
    "TransientStorageError",
    "__version__",
    "load_spec",
]
