"""What the Python API hands back: a generated image (bytes + metadata) and a published one."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class GeneratedImage:
    """One image, encoded and ready to use: ``data`` plus how it was made.

    ``cached`` is True when the original came from the bucket (no backend call,
    no cost); ``cost_usd`` is what this call paid.
    """

    data: bytes
    format: str  # png | jpeg | webp | avif
    content_type: str
    width: int
    height: int
    sha256: str
    prompt: str  # the final, composed prompt the backend was given
    backend: str
    model: str
    ai_generated: bool
    gen_key: str
    out_key: str
    image_id: str
    original_key: str
    cached: bool
    cost_usd: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    seed: int | None = None
    theme: str = ""
    size: str = ""
    quality: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return len(self.data)

    @property
    def extension(self) -> str:
        return {"jpeg": "jpg"}.get(self.format, self.format)

    def to_pil(self) -> Image.Image:
        """A Pillow image of the data (loaded, so the buffer can go)."""
        from PIL import Image

        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image

    def save(self, path: str | os.PathLike[str], *, parents: bool = True) -> Path:
        """Write the bytes as they are (format unchanged) to ``path``, atomically.

        Through a unique temporary file in the same folder (see :mod:`mediagen.client.outfile`);
        missing folders are created unless ``parents=False``. SpecError when ``path`` is a
        folder, its name is too long, or it cannot be written.
        """
        from mediagen.client.outfile import write_atomically

        return write_atomically(path, self.data, parents=parents)

    def describe(self) -> dict[str, Any]:
        """The metadata without the bytes (for logs, JSON answers, task results)."""
        return {k: v for k, v in self.__dict__.items() if k != "data"}


@dataclass(frozen=True)
class Published:
    """An object in the bucket: where it is and what it holds."""

    url: str
    key: str
    size: int  # bytes
    sha256: str
    content_type: str
    format: str
    width: int
    height: int
    public: bool
    uploaded: bool  # False: an identical object was already there (content-addressed key)
    metadata: dict[str, str] = field(default_factory=dict)
    image: GeneratedImage | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (for a web answer or a Celery result)."""
        return {k: v for k, v in self.__dict__.items() if k != "image"}


__all__ = ["GeneratedImage", "Published"]
