"""``MediaClient.run_spec``: a whole spec through the Prefect flow, as this client.

The run uses the client's configuration, not the process's: the client's settings
(its backend, the backend's key and gateway: ``ClientConfig.settings()``) and its
storage for a spec that names none (:func:`spec_settings`). They reach the flow as
the run's settings through :func:`flows.run.run_flow` (a process-local hand-off,
:mod:`flows.run_registry`), never as flow parameters: parameters are stored on the
Prefect server, and a key must never be. The flow builds its own
:class:`~mediagen.engine.run.Run` from them, with the spec's budget and limits.

Prefect is imported here only, when a spec runs: the rest of the client never
needs it (``import mediagen`` stays light and Prefect-free).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mediagen.errors import ConfigurationError

if TYPE_CHECKING:
    from mediagen.client.config import StorageConfig
    from mediagen.manifest.model import Manifest
    from mediagen.settings import Settings


def spec_settings(settings: Settings, storage: StorageConfig) -> Settings:
    """``settings`` with the client's storage where a spec names none.

    Only the destination (provider, bucket, region, endpoint): whether objects are
    public stays the spec's to say (nothing is public unless the spec says so).
    """
    return settings.model_copy(
        update={
            "storage_provider": storage.provider,
            "storage_bucket": storage.bucket,
            "storage_region": storage.region,
            "storage_endpoint_url": storage.endpoint_url,
        }
    )


def run_spec(
    spec: Any,
    settings: Settings,
    *,
    concurrency: int | None = None,
    runner: str | None = None,
    delivery: str | None = None,
) -> Manifest:
    """Run ``spec`` through the flow in this process with ``settings``; its manifest.

    ``delivery`` (sync, batch, flex): every image delivered so, as ``run --delivery``."""
    try:
        from flows.run import run_flow  # Prefect is imported only here
    except ImportError as exc:  # pragma: no cover - flows ship with mediagen
        raise ConfigurationError("run_spec needs the mediagen flows package") from exc
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if delivery is not None:
        from mediagen.spec.delivery import override
        from mediagen.spec.models import spec_from_any

        spec = override(spec_from_any(spec), delivery)
    options = {"runner": runner} if runner else {}
    return run_flow(spec, concurrency, settings=settings, **options)


__all__ = ["run_spec", "spec_settings"]
