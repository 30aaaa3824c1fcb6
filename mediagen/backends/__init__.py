"""Registry of image backends: a name maps to ``"module:Class"``.

Backends are imported only when asked for, so a missing optional dependency
(google-genai for ``gemini``) costs nothing until that backend is used, and
then fails with an install hint. Third-party packages add backends through the
``mediagen.backends`` entry-point group::

    [project.entry-points."mediagen.backends"]
    mybackend = "my_package.backend:MyBackend"
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from mediagen.backends.base import Backend, GenerationRequest, GenerationResult
from mediagen.errors import ConfigurationError

if TYPE_CHECKING:
    from mediagen.settings import Settings

logger = logging.getLogger("mediagen")

ENTRY_POINT_GROUP = "mediagen.backends"

BUILTIN_BACKENDS: dict[str, str] = {
    "offline": "mediagen.backends.offline:OfflineBackend",
    "gemini": "mediagen.backends.gemini.backend:GeminiBackend",
}

INSTALL_HINTS: dict[str, str] = {
    "gemini": "pip install 'mediagen[gemini]'  (installs google-genai)",
}

__all__ = [
    "BUILTIN_BACKENDS",
    "ENTRY_POINT_GROUP",
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "available_backends",
    "get_backend_class",
    "resolve_backend_name",
]


def available_backends() -> dict[str, str]:
    """Every known backend name and its ``"module:Class"`` path."""
    found = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under ``name``."""
    known = available_backends()
    if name not in known:
        raise ConfigurationError(
            f"unknown backend {name!r}; known backends: {', '.join(sorted(known))}"
        )
    module_name, _, class_name = known[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, f"install the package that provides {module_name}")
        raise ConfigurationError(
            f"backend {name!r} needs a package that is not installed ({exc.name or exc}): {hint}"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigurationError(f"backend {name!r}: {known[name]} is not a Backend subclass")
    return cls


def resolve_backend_name(requested: str | None, settings: Settings) -> str:
    """The backend a run will use: the spec's choice, the setting, or 'auto'.

    'auto' means gemini when a Gemini key is configured, else the offline
    renderer (with one notice, so nobody mistakes placeholder art for AI).
    """
    name = requested or settings.backend
    if name != "auto":
        return name
    if settings.gemini_api_key is not None or settings.gemini_api_key_block:
        return "gemini"
    if not _notice_given:
        _notice_given.append(True)
        logger.warning(
            "No GEMINI_API_KEY/GOOGLE_API_KEY set: using the offline renderer "
            "(procedural placeholder art, not AI)."
        )
    return "offline"


_notice_given: list[bool] = []
