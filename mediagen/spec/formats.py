"""The output formats mediagen writes: one table, used by every layer that needs it.

The spec names formats (``formats: [webp, avif]``), the imaging layer encodes
them, storage publishes them with a content type and a file extension, and the
Python API reads a format from a file name. All of them read this table, so a
new format is one row here (plus its encoder in :mod:`mediagen.imaging.codec`).
"""

from __future__ import annotations

from typing import Any, Literal

# name → (file extension, content type). Order: the order formats are listed to people.
TABLE: dict[str, tuple[str, str]] = {
    "png": ("png", "image/png"),
    "jpeg": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
    "avif": ("avif", "image/avif"),
}
FORMATS: tuple[str, ...] = tuple(TABLE)
OutputFormat = Literal["png", "jpeg", "webp", "avif"]  # a Literal cannot be built from TABLE
EXTENSIONS: dict[str, str] = {name: ext for name, (ext, _) in TABLE.items()}
CONTENT_TYPES: dict[str, str] = {name: ctype for name, (_, ctype) in TABLE.items()}
# What people write for a format besides its name (a file extension, mostly).
ALIASES: dict[str, str] = {"jpg": "jpeg"}


def format_for_extension(extension: str) -> str | None:
    """``'jpg'`` → ``'jpeg'``, ``'.WEBP'`` → ``'webp'``; ``None`` for anything else."""
    name = extension.lower().lstrip(".")
    name = ALIASES.get(name, name)
    return name if name in TABLE else None


def normalize_formats(value: Any) -> Any:
    """Spec input: a single format is a list of one; 'jpg' means 'jpeg'; case and spaces
    do not matter. Anything else is left for the model to reject."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = [v.strip().lower() if isinstance(v, str) else v for v in value]
        return [ALIASES.get(v, v) if isinstance(v, str) else v for v in value]
    return value


__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "FORMATS",
    "OutputFormat",
    "format_for_extension",
    "normalize_formats",
]
