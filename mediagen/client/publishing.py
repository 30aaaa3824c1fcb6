"""Putting images into the client's bucket and finding them again.

What ``upload_image``, ``generate_and_upload`` and ``delete_image`` share:

- :func:`encoded`: any accepted input (a :class:`GeneratedImage`, bytes, a Pillow
  image, a path) as encoded bytes, re-encoded only when another format is asked;
- :func:`user_metadata`: S3 user metadata rules (HTTP headers: short ASCII names,
  one-line ASCII values), checked before anything is sent;
- :func:`publish`: one ``put`` with the storage rules of the flows (private unless
  asked, cached for a year at a content-addressed key, not uploaded again when the
  identical object is already there);
- :func:`key_from_url`: the object key of a URL this client handed out, and a clear
  refusal for anyone else's.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mediagen.client.results import GeneratedImage, Published
from mediagen.errors import ProcessingError, SpecError
from mediagen.spec.formats import CONTENT_TYPES, EXTENSIONS  # the one table
from mediagen.storage.bucket import Bucket, BucketConfig, cache_control_for

if TYPE_CHECKING:
    from PIL import Image

ImageInput = GeneratedImage | bytes | bytearray | memoryview | str | os.PathLike[str] | Any
_META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Blob:
    """Encoded image bytes that did not come from this client's generation."""

    data: bytes
    format: str
    width: int
    height: int
    sha256: str


def publish(
    bucket: Bucket,
    image: GeneratedImage | Blob,
    key: str,
    metadata: dict[str, str],
    public: bool,
    *,
    immutable: bool,
    skip_existing: bool,
) -> Published:
    """Put ``image`` at ``key`` (unless ``skip_existing`` and it is there already)."""
    exists = skip_existing and bucket.exists(key)
    if not exists:
        bucket.put(
            key,
            image.data,
            content_type=CONTENT_TYPES[image.format],
            cache_control=cache_control_for(immutable=immutable, public=public),
            public=public,
            metadata=metadata,
        )
    return Published(
        url=bucket.url(key),
        key=key,
        size=len(image.data),
        sha256=image.sha256,
        content_type=CONTENT_TYPES[image.format],
        format=image.format,
        width=image.width,
        height=image.height,
        public=public,
        uploaded=not exists,
        metadata=metadata,
        image=image if isinstance(image, GeneratedImage) else None,
    )


def key_from_url(bucket: Bucket, config: BucketConfig, key_or_url: str) -> str:
    """The object key of a key or of a URL ``bucket`` hands out (else a SpecError)."""
    if "://" not in key_or_url:
        return key_or_url.lstrip("/")
    parts = urlsplit(key_or_url)
    plain = unquote(f"{parts.scheme}://{parts.netloc}{parts.path}")
    bases = _url_bases(bucket, config)
    for base in bases:
        if plain.startswith(base) and len(plain) > len(base):
            return plain[len(base) :]
    raise SpecError(
        f"{key_or_url!r} is not a URL of this client's bucket "
        f"({config.provider}:{config.bucket}): expected it to start "
        f"with {bases[0]!r}; pass the object key instead"
    )


def _url_bases(bucket: Bucket, config: BucketConfig) -> list[str]:
    probe = "k"
    plain_url = getattr(bucket, "plain_url", bucket.url)
    bases = [plain_url(probe)[: -len(probe)]]
    if config.provider != "local":
        bases.append(f"s3://{config.bucket}/")
        region = config.region or "us-east-1"
        bases += [
            f"https://{config.bucket}.s3.{region}.amazonaws.com/",
            f"https://{config.bucket}.s3.amazonaws.com/",
            f"https://s3.{region}.amazonaws.com/{config.bucket}/",
        ]
        if config.endpoint_url:
            bases.append(f"{config.endpoint_url.rstrip('/')}/{config.bucket}/")
    return bases


def user_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """S3 user metadata: short ASCII names and ASCII values (HTTP headers)."""
    out: dict[str, str] = {}
    problems = []
    for name, value in (metadata or {}).items():
        text = str(value)
        if not _META_KEY.match(str(name)):
            problems.append(f"metadata[{name!r}]: names are letters, digits, '-' and '_' (max 64)")
        elif not text.isascii() or "\n" in text or len(text) > 1024:
            problems.append(
                f"metadata[{name!r}]: values must be one line of ASCII text (≤ 1024 chars); "
                "URL-quote other text first"
            )
        else:
            out[str(name)] = text
    if problems:
        raise SpecError("invalid upload metadata", problems)
    return out


def encoded(image: ImageInput, fmt: str | None) -> tuple[bytes, str, int, int]:
    """(bytes, format, width, height) of any accepted input, re-encoded to ``fmt`` if asked."""
    from PIL import Image, UnidentifiedImageError

    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower()) if fmt else None
    if fmt is not None and fmt not in EXTENSIONS:
        raise SpecError(f"format {fmt!r}: use png, jpeg, webp or avif")
    if isinstance(image, GeneratedImage):
        if fmt in (None, image.format):
            return image.data, image.format, image.width, image.height
        data = image.data
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif isinstance(image, str | os.PathLike):
        data = Path(image).read_bytes()
    elif isinstance(image, Image.Image):
        return _encode_pil(image, fmt or "png")
    else:
        raise SpecError(
            f"upload_image takes a GeneratedImage, bytes, a Pillow image or a path, "
            f"not {type(image).__name__}"
        )
    try:
        with Image.open(io.BytesIO(data)) as opened:
            found = (opened.format or "").lower()
            if fmt in (None, found) and found in EXTENSIONS:
                return data, found, opened.width, opened.height
            opened.load()
            return _encode_pil(opened, fmt or "png")
    except (UnidentifiedImageError, OSError) as exc:
        raise ProcessingError(
            f"upload_image: the data is not an image Pillow can read ({exc}); "
            "pass PNG, JPEG, WebP or AVIF bytes"
        ) from exc


def _encode_pil(image: Image.Image, fmt: str) -> tuple[bytes, str, int, int]:
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    options = {"quality": 85} if fmt != "png" else {"optimize": True}
    image.save(buffer, fmt.upper(), **options)
    return buffer.getvalue(), fmt, image.width, image.height


__all__ = [
    "Blob",
    "ImageInput",
    "encoded",
    "key_from_url",
    "publish",
    "user_metadata",
]
