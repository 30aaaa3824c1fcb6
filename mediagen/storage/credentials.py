"""Storage credentials: from the environment or a Prefect block, never from a spec.

Resolution, first match wins:

1. ``MEDIAGEN_STORAGE_CREDENTIALS_BLOCK`` names a Prefect block: its values
   (an explicit setting beats whatever happens to be in the environment);
2. ``digitalocean``: ``DO_SPACES_KEY`` / ``DO_SPACES_SECRET`` (the names the
   replaced service used), else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``;
3. ``s3``: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (+ ``AWS_SESSION_TOKEN``);
4. ``s3`` only: botocore's own chain (profile, SSO, instance or task role).

The Prefect lookup lives in ``flows/blocks.py`` and is imported only when a
block is named, so ``import mediagen`` never imports Prefect. Every value
resolved here is registered with :mod:`mediagen.redaction`, so :func:`redact`
scrubs it from any message that could reach a user, a log or a manifest.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from pydantic import SecretStr

from mediagen import redaction
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings

REDACTED = redaction.REDACTED


@dataclass(frozen=True, repr=False)
class StorageCredentials:
    """Key pair for an S3 client. ``repr`` never shows the values."""

    key: str | None
    secret: str | None
    token: str | None
    source: str  # where they came from, safe to print

    def __repr__(self) -> str:
        return f"StorageCredentials(source={self.source!r})"

    __str__ = __repr__


def storage_credentials(provider: str, settings: Settings) -> StorageCredentials:
    """Credentials for ``provider`` (see the module docstring for the order)."""
    if settings.storage_credentials_block:
        loader = importlib.import_module("flows.blocks").load_storage_credentials
        key, secret, token = loader(settings.storage_credentials_block)
        return _remember(key, secret, token, f"prefect block {settings.storage_credentials_block}")
    if provider == "digitalocean":
        pair = _pair(settings.do_spaces_key, settings.do_spaces_secret, "DO_SPACES_KEY",
                     "DO_SPACES_SECRET")  # fmt: skip
        if pair:
            return _remember(*pair, None, "DO_SPACES_KEY/DO_SPACES_SECRET")
    pair = _pair(settings.aws_access_key_id, settings.aws_secret_access_key, "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY")  # fmt: skip
    if pair:
        token = (
            settings.aws_session_token.get_secret_value() if settings.aws_session_token else None
        )
        return _remember(*pair, token, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if provider == "digitalocean":
        raise ConfigurationError(
            "DigitalOcean Spaces needs credentials: set DO_SPACES_KEY and DO_SPACES_SECRET "
            "(or MEDIAGEN_STORAGE_CREDENTIALS_BLOCK)"
        )
    return StorageCredentials(None, None, None, "botocore default chain")


def _pair(
    key: SecretStr | None, secret: SecretStr | None, key_name: str, secret_name: str
) -> tuple[str, str] | None:
    key_value = key.get_secret_value() if key else ""
    secret_value = secret.get_secret_value() if secret else ""
    if key_value and secret_value:
        return key_value, secret_value
    if key_value or secret_value:
        missing = secret_name if key_value else key_name
        raise ConfigurationError(f"{missing} is not set (its partner is): set both or neither")
    return None


def _remember(key: str | None, secret: str | None, token: str | None, source: str):  # type: ignore[no-untyped-def]
    redaction.register(key, secret, token)
    return StorageCredentials(key, secret, token, source)


def redact(text: str) -> str:
    """``text`` with every secret this process has resolved replaced by ***."""
    return redaction.redact(text)
