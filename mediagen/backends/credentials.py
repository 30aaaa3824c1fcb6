"""Secrets a backend keeps in a secret store instead of the environment.

A backend's settings may name a secret (e.g. its key's ``..._API_KEY_BLOCK``
setting) instead of holding its value. :func:`load_secret` turns the name into
the value through the loader the application registered: the Prefect flows
register one that reads a Prefect Secret block (``flows/secret_blocks.py``),
so this library never imports Prefect. Values are cached per process, kept as
``SecretStr`` and registered with :mod:`mediagen.redaction`, so they never
enter a log line or an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pydantic import SecretStr

from mediagen import redaction
from mediagen.errors import ConfigurationError

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


def load_secret(name: str, *, what: str, direct: str) -> SecretStr:
    """The value of the secret ``name`` (``what`` it holds, for messages), or a
    ConfigurationError; ``direct`` says how to give the value without a store."""
    with _lock:
        if name in _cache:
            return _cache[name]
        loader = _loaders[0] if _loaders else None
    if loader is None:
        raise ConfigurationError(
            f"the {what} is in the secret {name!r}, which only the Prefect flow can read "
            f"(mediagen run); {direct} for direct library use"
        )
    try:
        value = SecretStr(loader(name).strip())
    except Exception as exc:  # the loader's own error could name the store, never the value
        raise ConfigurationError(
            f"cannot read the {what} from secret {name!r}: {type(exc).__name__}"
        ) from exc
    if not value.get_secret_value():
        raise ConfigurationError(f"the secret {name!r} holding the {what} is empty")
    redaction.register(value.get_secret_value())
    with _lock:
        _cache[name] = value
    return value
