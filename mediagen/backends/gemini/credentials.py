"""Where backend credentials come from: the environment, or a secret store.

The Gemini key is read from ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` (see
:mod:`mediagen.settings`). When neither is set and
``MEDIAGEN_GEMINI_API_KEY_BLOCK`` names a secret, a registered loader fetches
it: the Prefect flows register one that reads a Prefect Secret block, so this
library never imports Prefect. Keys are ``SecretStr`` until the moment they
are handed to the SDK, and never enter a spec, a log line or an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import SecretStr

from mediagen.errors import ConfigurationError
from mediagen.settings import Settings

SecretLoader = Callable[[str], str]

_lock = threading.Lock()
_loaders: list[SecretLoader] = []
_cache: dict[str, SecretStr] = {}


def register_secret_loader(loader: SecretLoader | None) -> None:
    """Install the function that turns a secret's name into its value (None removes it)."""
    with _lock:
        _loaders.clear()
        _cache.clear()
        if loader is not None:
            _loaders.append(loader)


def has_gemini_credentials(settings: Settings) -> bool:
    """A key is set, or a secret that holds one is named."""
    return settings.gemini_api_key is not None or bool(settings.gemini_api_key_block)


def gemini_api_key(settings: Settings) -> SecretStr:
    """The Gemini key, or ConfigurationError saying how to provide one."""
    key = settings.gemini_api_key
    if key is not None and key.get_secret_value().strip():
        return key
    name = settings.gemini_api_key_block
    if not name:
        raise ConfigurationError(
            "backend 'gemini' needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), "
            "or MEDIAGEN_GEMINI_API_KEY_BLOCK to the name of a Prefect Secret block"
        )
    with _lock:
        if name in _cache:
            return _cache[name]
        loader = _loaders[0] if _loaders else None
    if loader is None:
        raise ConfigurationError(
            f"the Gemini key is in the secret {name!r}, which only the Prefect flow can read "
            "(mediagen run); set GEMINI_API_KEY for direct library use"
        )
    try:
        value = SecretStr(loader(name).strip())
    except Exception as exc:  # the loader's own error could name the store, never the value
        raise ConfigurationError(
            f"cannot read the Gemini key from secret {name!r}: {type(exc).__name__}"
        ) from exc
    if not value.get_secret_value():
        raise ConfigurationError(f"the secret {name!r} holding the Gemini key is empty")
    with _lock:
        _cache[name] = value
    return value
