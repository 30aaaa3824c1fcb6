"""Where the Gemini key comes from: the environment, or a secret store.

The key is read from ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` (see
:class:`~mediagen.backends.gemini.settings.GeminiSettings`), or given in code
(a ``MediaClient``'s ``GeminiConfig``). When neither is set and
``MEDIAGEN_GEMINI_API_KEY_BLOCK`` names a secret, the registered secret loader
fetches it (:mod:`mediagen.backends.credentials`). Keys are ``SecretStr`` until
the moment they are handed to the SDK, and never enter a spec, a log line or
an error.
"""

from __future__ import annotations

from pydantic import SecretStr

from mediagen.backends.credentials import load_secret
from mediagen.backends.gemini.settings import GeminiSettings
from mediagen.errors import ConfigurationError


def has_gemini_credentials(own: GeminiSettings) -> bool:
    """A key is set, or a secret that holds one is named."""
    return own.api_key is not None or bool(own.api_key_block)


def gemini_api_key(own: GeminiSettings) -> SecretStr:
    """The Gemini key, or ConfigurationError saying how to provide one."""
    key = own.api_key
    if key is not None and key.get_secret_value().strip():
        return key
    if not own.api_key_block:
        raise ConfigurationError(
            "backend 'gemini' needs an API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), "
            "or MEDIAGEN_GEMINI_API_KEY_BLOCK to the name of a Prefect Secret block"
        )
    return load_secret(own.api_key_block, what="Gemini key", direct="set GEMINI_API_KEY")
