"""A backend's group of a client configuration (``ClientConfig.<group>``).

API users configure a backend in code (``ClientConfig(gemini=GeminiConfig(api_key=...))``).
The client knows no provider: it finds its backend groups by type, hands each
one's :meth:`BackendConfig.backend_options` to the backend through
:meth:`mediagen.settings.Settings.with_backend_options` (never through the
process environment, so two clients with different keys coexist), asks it
for :meth:`BackendConfig.problems` when it is the chosen backend, and uses its
``model`` as the default model of that backend's images.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic_settings import BaseSettings


class BackendConfig(BaseSettings):
    """Base of a backend's client configuration group; values in code win over the env."""

    #: the registry name of the backend this group configures
    backend_name: ClassVar[str] = ""

    model: str | None = None  # the default model of this backend's images (None: its own)

    def backend_options(self) -> dict[str, Any]:
        """Values for the backend's own settings (``Backend.settings_model`` fields)."""
        return {}

    def problems(self) -> list[str]:
        """What stops this backend from working, one line each (it is the chosen one)."""
        return []
