"""Storage credentials kept in a Prefect block (the library imports this lazily).

``MEDIAGEN_STORAGE_CREDENTIALS_BLOCK`` names the block as ``block-type/name``.
Two shapes are understood:

- a core ``Secret`` block (``secret/NAME``) whose value is a JSON object
  ``{"access_key_id": ..., "secret_access_key": ..., "session_token": ...}``;
- any block with ``aws_access_key_id`` / ``aws_secret_access_key`` fields,
  such as prefect-aws's ``AwsCredentials`` (``aws-credentials/NAME``).

Only key material leaves this module: block documents, names of fields that
failed, never their values.
"""

from __future__ import annotations

import json
from typing import Any

from prefect.blocks.core import Block
from pydantic import SecretStr

from mediagen.errors import ConfigurationError


def load_storage_credentials(slug: str) -> tuple[str, str, str | None]:
    """``(key, secret, token)`` from the block named ``slug``."""
    if "/" not in slug:
        raise ConfigurationError(
            f"MEDIAGEN_STORAGE_CREDENTIALS_BLOCK={slug!r}: use 'block-type/name', "
            "e.g. 'secret/mediagen-s3'"
        )
    try:
        block = Block.load(slug)
    except (ValueError, KeyError) as exc:  # Prefect raises ValueError for unknown blocks
        raise ConfigurationError(f"cannot load Prefect block {slug!r}: {exc}") from exc
    if hasattr(block, "aws_access_key_id"):
        values = {
            "access_key_id": block.aws_access_key_id,
            "secret_access_key": getattr(block, "aws_secret_access_key", None),
            "session_token": getattr(block, "aws_session_token", None),
        }
    else:
        values = _secret_mapping(block, slug)
    key, secret, token = (
        _plain(values.get(n)) for n in ("access_key_id", "secret_access_key", "session_token")
    )
    if not key or not secret:
        raise ConfigurationError(f"Prefect block {slug!r} lacks access_key_id or secret_access_key")
    return key, secret, token


def _secret_mapping(block: Any, slug: str) -> dict[str, Any]:
    value = block.get() if hasattr(block, "get") else None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"Prefect block {slug!r} must hold a JSON object with access_key_id and "
            "secret_access_key"
        )
    return value


def _plain(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return str(value) if value else None
