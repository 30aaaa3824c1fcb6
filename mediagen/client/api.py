"""Python API for application code: the same core as the flows, without Prefect.

::

    from mediagen import get_client

    client = get_client()                       # configured from the environment
    image = client.generate_image("a piggy bank", size="thumbnail", theme="playful")
    published = client.generate_and_upload("a house", size="hero", quality="high")
    client.delete_image(published.url)

See :class:`mediagen.client.media_client.MediaClient` for every method, and
``docs/api.md``.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from mediagen.client.config import BrandConfig, ClientConfig, GeminiConfig, StorageConfig
from mediagen.client.media_client import ClientStats, MediaClient
from mediagen.client.outfile import check_target
from mediagen.client.results import GeneratedImage, Published
from mediagen.errors import SpecError
from mediagen.spec.formats import format_for_extension
from mediagen.spec.vocabulary import Quality, Theme

_default: MediaClient | None = None
_default_lock = threading.Lock()


def get_client() -> MediaClient:
    """The shared default client, built from the environment on first use.

    A convenience, not a singleton: build as many :class:`MediaClient` objects
    as you need (e.g. one per tenant), and replace this one with
    :func:`set_default_client` (tests, or an app that configures in code).
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = MediaClient()
        return _default


def set_default_client(client: MediaClient | None) -> MediaClient | None:
    """Make ``client`` the one :func:`get_client` returns (None: build it again from the
    environment next time). Returns the previous default, which is not closed."""
    global _default
    with _default_lock:
        previous, _default = _default, client
        return previous


def generate_to_file(
    prompt: str,
    out: str | Path,
    *,
    size: str = "standard",
    theme: Theme | str = Theme.MODERN,
    quality: Quality | str = Quality.STANDARD,
    backend: str | None = None,
    parents: bool = True,
) -> GeneratedImage:
    """Generate one image and write it to ``out`` (format from the extension).

    No bucket is involved: the client's cache lives in a temporary folder that
    is removed afterwards (the ``mediagen generate`` command). ``out`` is checked
    before anything is generated; missing folders are created unless
    ``parents=False`` (the CLI's default: it creates them only with ``--parents``).
    """
    out = check_target(out, parents=parents)
    fmt = format_for_extension(out.suffix)
    if fmt is None:
        raise SpecError(f"{out}: unknown image extension; use .png, .jpg, .webp or .avif")
    with tempfile.TemporaryDirectory(prefix="mediagen-generate-") as scratch:
        config = ClientConfig(
            **({"backend": backend} if backend else {}),
            storage=StorageConfig(provider="local", bucket=scratch, prefix="generate"),
        )
        with MediaClient(config) as client:
            image = client.generate_image(
                prompt, size=size, theme=theme, quality=quality, format=fmt
            )
    image.save(out, parents=parents)
    return image


__all__ = [
    "BrandConfig",
    "ClientConfig",
    "ClientStats",
    "GeminiConfig",
    "GeneratedImage",
    "MediaClient",
    "Published",
    "StorageConfig",
    "generate_to_file",
    "get_client",
    "set_default_client",
]
