"""Which backends can take a batch of requests as one asynchronous job, and the door to it.

The engine asks here, by backend name, and never names a provider: a backend
that can batch is listed in :data:`BATCH_CLIENTS` (``"module:Class"``, imported
when used). Its client follows :class:`BatchClient`: encode a request as one
input line, submit a job of lines, get/cancel/list jobs, read a finished job's
answers as :class:`~mediagen.backends.base.GenerationResult` or the error the
line amounts to (the same errors as a sync call).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from mediagen.backends.base import GenerationRequest
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings

BATCH_CLIENTS: dict[str, str] = {
    "gemini": "mediagen.backends.gemini.batch:GeminiBatchClient",
}
SPLITTERS: dict[str, str] = {
    "gemini": "mediagen.backends.gemini.batch:split",
}


class BatchClient(Protocol):
    def line(self, key: str, model: str, request: GenerationRequest) -> bytes: ...
    def submit(self, model: str, lines: Iterable[bytes], display_name: str) -> str: ...
    def get(self, name: str) -> Any: ...  # .name .state .model .display_name .created
    def results(self, job: Any) -> list[Any]: ...  # [.key .result .error]
    def cancel(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def list(self, limit: int = 100) -> list[Any]: ...
    def close(self) -> None: ...


def can_batch(backend: str) -> bool:
    return backend in BATCH_CLIENTS


def _load(table: dict[str, str], backend: str) -> Any:
    try:
        module, _, name = table[backend].partition(":")
    except KeyError:
        raise ConfigurationError(
            f"backend {backend!r} cannot deliver in batch (batch backends: "
            f"{', '.join(sorted(BATCH_CLIENTS))})"
        ) from None
    return getattr(importlib.import_module(module), name)


def batch_client(backend: str, settings: Settings) -> BatchClient:
    """A batch client of ``backend`` (ConfigurationError when it cannot batch)."""
    client: BatchClient = _load(BATCH_CLIENTS, backend)(settings)
    return client


def split(backend: str, lines: Sequence[bytes], **limits: int) -> list[list[int]]:
    """The backend's grouping of one model's lines into jobs (its size limits)."""
    groups: list[list[int]] = _load(SPLITTERS, backend)(lines, **limits)
    return groups


__all__ = ["BATCH_CLIENTS", "BatchClient", "batch_client", "can_batch", "split"]
