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
from mediagen.spec import JobSpec, load_spec

__version__ = "0.1.0"

__all__ = [
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
