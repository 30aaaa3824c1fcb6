"""Reference images: pictures sent with the prompt so a series stays on brand.

A spec (``defaults.references``) or an image (``references``) lists image
files, each relative to the spec file (``file:``; a plain string is a file),
or an object already in the spec's bucket (``key:``, relative to the bucket
root), each with an optional ``role``:

- ``style``: the look to follow (palette, medium, lighting);
- ``subject``: something that must appear (a mascot, a product);
- ``logo``: a mark to reproduce faithfully.

An image's list replaces the spec default's (``references: []`` sends none).
This module checks each entry on its own; whether the files exist, are
images, are small enough and how many the model takes is decided when the
spec is planned (:mod:`mediagen.plan.references`), where the bytes are read
and hashed. Where a spec came from (its folder, and the lines of these
fields, so those errors too name ``file:line:field``) is :class:`SpecOrigin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from mediagen.spec.base import SpecModel
from mediagen.spec.diagnostics import describe, field_path, locate

Role = Literal["style", "subject", "logo"]
ROLES: tuple[str, ...] = ("style", "subject", "logo")

# What a list may hold before any model is asked. The model's own limit (14 for the
# current Gemini image models) is checked at planning, naming the model.
MAX_REFERENCES = 32
# Gemini takes inline data up to 20 MB per request (base64 adds a third): one
# reference of at most 7 MiB keeps a request of a few references under it.
MAX_REFERENCE_BYTES = 7 * 1024 * 1024
# ... and all of one image's references together at most 14 MiB (18.7 MB as base64).
MAX_REQUEST_REFERENCE_BYTES = 14 * 1024 * 1024


def _reference_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of a reference: the mapping (exactly one of file/key), or a file name."""
    mapping = {
        key: schema.pop(key)
        for key in ("type", "properties", "required", "additionalProperties")
        if key in schema
    }
    mapping["oneOf"] = [{"required": ["file"]}, {"required": ["key"]}]
    schema["anyOf"] = [
        mapping,
        {"type": "string", "minLength": 1, "maxLength": 1000, "description": "a file name"},
    ]


class Reference(SpecModel):
    """One reference image: a file beside the spec, or a key in the bucket."""

    model_config = ConfigDict(json_schema_extra=_reference_schema)

    file: str | None = Field(
        None, min_length=1, max_length=1000, description="Image file, relative to the spec file."
    )
    key: str | None = Field(
        None, min_length=1, max_length=1000, description="Object key in the spec's bucket."
    )
    role: Role | None = Field(
        None, description="How the model should use it: style, subject or logo."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):  # "brand/logo.png" is a shorthand for {file: ...}
            return {"file": value}
        if not isinstance(value, dict | Reference):
            raise ValueError(f"expected a file name or {{file|key, role}}, got {describe(value)}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Reference:
        if (self.file is None) == (self.key is None):
            raise ValueError(
                "give exactly one of 'file' (beside the spec) or 'key' (in the bucket)"
            )
        return self

    @property
    def where(self) -> str:
        """How the user wrote it, for messages: ``logo.png`` or ``key brand/logo.png``."""
        return self.file if self.file is not None else f"key {self.key}"


@dataclass
class SpecOrigin:
    """Where a spec was read from: its folder (file references are relative to it) and
    the ``file:line:col`` of its reference fields, for errors found after parsing."""

    source: str = "<spec>"
    base_dir: str | None = None  # None: an inline spec; files are relative to the cwd
    lines: dict[str, str] = field(default_factory=dict)  # field path → file:line:col

    def where(self, loc: tuple[Any, ...]) -> str:
        """``file:line:col: field.path`` of ``loc`` (the nearest located parent)."""
        path = field_path(loc)
        for cut in range(len(loc), -1, -1):
            found = self.lines.get(field_path(loc[:cut]))
            if found:
                return f"{found}: {path}"
        return f"{self.source}: {path}"


def origin_of(data: Any, source: str, root: Any, base_dir: str | None) -> SpecOrigin:
    """The origin of a parsed spec: the lines of every reference field it holds."""
    origin = SpecOrigin(source=source, base_dir=base_dir)
    if not isinstance(data, dict):
        return origin
    places: list[tuple[Any, ...]] = []
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get("references"), list):
        places.append(("defaults", "references"))
        places += [("defaults", "references", j) for j in range(len(defaults["references"]))]
    images = data.get("images")
    for i, image in enumerate(images if isinstance(images, list) else []):
        places.append(("images", i))
        if isinstance(image, dict) and isinstance(image.get("references"), list):
            places.append(("images", i, "references"))
            places += [("images", i, "references", j) for j in range(len(image["references"]))]
    for loc in places:
        origin.lines[field_path(loc)] = locate(source, root, loc)
    return origin


__all__ = [
    "MAX_REFERENCES",
    "MAX_REFERENCE_BYTES",
    "MAX_REQUEST_REFERENCE_BYTES",
    "ROLES",
    "Reference",
    "Role",
    "SpecOrigin",
    "origin_of",
]
