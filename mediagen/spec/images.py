"""The images of a spec: the options an image may set, and the image entry itself.

:class:`ImageOptions` is what an image (or the spec's ``defaults``) may set: size,
quality, theme, brand colours, formats, renditions, crops, alt text...;
:class:`ImageSpec` adds the id, the prompt and a template ``matrix``. Each field is
checked on its own here; what only the whole spec can tell (templates, ids after
expansion, the image count) is :mod:`mediagen.spec.templates`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from mediagen.spec.base import ID_RULES, HexColor, ModelName, Slug, SpecModel, is_valid_id
from mediagen.spec.diagnostics import HEX_RE, describe, did_you_mean
from mediagen.spec.formats import OutputFormat, normalize_formats
from mediagen.spec.schema import SIZE_NAMES, brand_color_schema, formats_schema, size_schema
from mediagen.spec.selection import MAX_CANDIDATES, MIN_CANDIDATES, PickMode
from mediagen.spec.vocabulary import MAX_SIDE, MIN_SIDE, Quality, SizePreset, Theme


class CustomSize(SpecModel):
    """An explicit pixel size."""

    width: int = Field(ge=MIN_SIDE, le=MAX_SIDE)
    height: int = Field(ge=MIN_SIDE, le=MAX_SIDE)


def _size_branch(value: Any) -> str:
    return "CustomSize" if isinstance(value, dict | CustomSize) else "SizePreset"


# A preset name or {width, height}. The discriminator picks the branch from the
# input's type, so a bad value gets one error from one branch, not one per branch.
SizeValue = Annotated[
    Annotated[SizePreset, Tag("SizePreset")] | Annotated[CustomSize, Tag("CustomSize")],
    Discriminator(_size_branch),
]


class BrandColor(SpecModel):
    """A brand colour: hex value plus an optional human name used in prompts."""

    model_config = ConfigDict(json_schema_extra=brand_color_schema)

    hex: HexColor
    name: str | None = Field(None, max_length=60)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        # "#0A7B83" or "#0A7B83 teal" are accepted as shorthands.
        if isinstance(value, str):
            hex_part, name = [*value.split(maxsplit=1), "", ""][:2]
            if not re.fullmatch(HEX_RE, hex_part):
                raise ValueError(
                    f"{value!r} is not a brand colour: use '#RRGGBB', '#RRGGBB name' "
                    "or {hex: '#RRGGBB', name: ...}"
                )
            return {"hex": hex_part, "name": name.strip() or None}
        if not isinstance(value, dict | BrandColor):
            raise ValueError(
                f"expected a brand colour ('#RRGGBB', '#RRGGBB name' or {{hex, name}}), "
                f"got {describe(value)}"
            )
        return value


def _matrix_value(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()  # "true"/"false" (YAML 1.1 also reads yes/no/on/off so)
    if not isinstance(value, str | int | float):
        raise ValueError(f"matrix values must be text or numbers, got {describe(value)}")
    return value


MatrixValue = Annotated[str | int | float, BeforeValidator(_matrix_value)]


def _metadata_value(value: Any) -> Any:
    if not isinstance(value, str | int | float | bool):
        raise ValueError(
            f"metadata values must be text, numbers or true/false, got {describe(value)}"
        )
    # Copied into every image's manifest entry: bounded, and numbers any JSON reader keeps.
    if isinstance(value, str) and len(value) > 1000:
        raise ValueError(f"is too long ({len(value)} characters, at most 1000)")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise ValueError("is too large a number (at most 19 digits)")
    return value


MetadataValue = Annotated[str | int | float | bool, BeforeValidator(_metadata_value)]


FocalName = Literal["center", "top", "bottom", "left", "right", "entropy"]
_FOCAL_XY_RE = r"^\s*([01](\.\d+)?|\.\d+)\s*,\s*([01](\.\d+)?|\.\d+)\s*$"


class FocalXY(SpecModel):
    """An explicit focal point, as fractions of the width and height."""

    x: float = Field(ge=0, le=1, description="0 = left edge, 1 = right edge")
    y: float = Field(ge=0, le=1, description="0 = top edge, 1 = bottom edge")


def _focal_branch(value: Any) -> str:
    return "FocalXY" if isinstance(value, dict | FocalXY) else "FocalName"


# A name or {x, y}: the discriminator picks one branch, so a bad value gets one error.
FocalValue = Annotated[
    Annotated[FocalName, Tag("FocalName")] | Annotated[FocalXY, Tag("FocalXY")],
    Discriminator(_focal_branch),
]


def _focal_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of ``focal_point``: also the 'x,y' string shorthand."""
    schema.setdefault("anyOf", []).insert(
        1, {"type": "string", "pattern": _FOCAL_XY_RE, "description": "'x,y' fractions 0-1"}
    )


class Variants(SpecModel):
    """Responsive renditions: every width x every format, all from the one generation."""

    widths: list[Annotated[int, Field(ge=MIN_SIDE, le=MAX_SIDE)]] = Field(
        min_length=1,
        max_length=16,
        description="Breakpoint widths in pixels; heights keep the image's aspect ratio. "
        "Widths above the image's own width are skipped (never upscaled).",
    )
    formats: list[OutputFormat] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Formats of the renditions (default: the image's formats).",
        json_schema_extra=formats_schema,
    )
    sizes: str = Field(
        "100vw",
        min_length=1,
        max_length=300,
        description="The sizes attribute of the <picture> snippet, e.g. "
        "'(min-width: 800px) 50vw, 100vw'.",
    )

    @field_validator("formats", mode="before")
    @classmethod
    def _one_format(cls, value: Any) -> Any:
        return normalize_formats(value)

    @field_validator("widths")
    @classmethod
    def _unique_widths(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("widths are listed more than once")
        return value


class BrandFitCheck(SpecModel):
    """Check that an image stays near its brand colours (CIEDE2000 in CIELAB)."""

    min_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Flag the image when less than this share of its pixels is near a "
        "brand colour (0-1). Unset: the score is reported, never flagged.",
    )
    max_delta_e: float = Field(
        10.0,
        gt=0,
        le=100,
        description="How near counts as near: CIEDE2000 distance to the closest brand colour.",
    )


class ImageOptions(SpecModel):
    """Options an image can set, or inherit from the spec's ``defaults``."""

    size: SizeValue | None = Field(
        None,
        description="A preset name, WIDTHxHEIGHT, or {width, height} in pixels (16-8192).",
        json_schema_extra=size_schema,
    )
    quality: Quality | None = None
    theme: Theme | None = None
    brand_colors: list[BrandColor] | None = Field(None, max_length=12)
    formats: list[OutputFormat] | None = Field(
        None, min_length=1, max_length=4, json_schema_extra=formats_schema
    )
    finance_context: bool | None = Field(
        None, description="Add finance-app context to the prompt (default: on for finance specs)."
    )
    constraints: list[Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        None, max_length=20
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    model: ModelName | list[ModelName] | None = Field(
        None,
        description="Model name, or a fallback chain [first, then, ...] tried in order on "
        "capacity or availability errors (never on safety blocks).",
    )
    tags: list[Annotated[str, StringConstraints(max_length=60)]] | None = Field(None, max_length=32)
    metadata: dict[Annotated[str, StringConstraints(max_length=100)], MetadataValue] | None = Field(
        None, max_length=32
    )
    variants: Variants | None = None
    focal_point: FocalValue | None = Field(
        None,
        description="Where cover-crops keep their window: center (default), top, bottom, "
        "left, right, entropy, {x, y} or 'x,y' fractions.",
        json_schema_extra=_focal_schema,
    )
    brand_fit: BrandFitCheck | None = None
    alt_text: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="Alt text for the image; 'auto' asks the backend to write it. "
        "Text written here is published as is, never replaced.",
    )
    candidates: int | None = Field(
        None,
        ge=MIN_CANDIDATES,
        le=MAX_CANDIDATES,
        description="Generate this many candidates (each paid, each with its own seed) and "
        "publish one of them (default 1).",
    )
    pick: PickMode | None = Field(
        None,
        description="How the published candidate is chosen: auto (the best brand-fit score, "
        "default) or review (a person approves).",
    )
    keep_candidates: bool | None = Field(
        None,
        description="Keep the unchosen candidates' originals when pruning (default false).",
    )

    @field_validator("focal_point", mode="before")
    @classmethod
    def _focal_input(cls, value: Any) -> Any:
        # "0.3,0.7" is a shorthand for {x: 0.3, y: 0.7}.
        if isinstance(value, str) and re.fullmatch(_FOCAL_XY_RE, value):
            x, y = value.split(",")
            return {"x": float(x), "y": float(y)}
        return value

    @field_validator("alt_text")
    @classmethod
    def _alt_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank (leave it out, or write 'auto')")
        return value

    @field_validator("size", mode="before")
    @classmethod
    def _size_input(cls, value: Any) -> Any:
        if value is None or isinstance(value, dict | CustomSize):
            return value
        if isinstance(value, str):
            text = value.strip()
            # "800x600" is a shorthand for {width: 800, height: 600}.
            if re.fullmatch(r"\d+x\d+", text):
                width, height = text.split("x")
                return {"width": int(width), "height": int(height)}
            if text == SizePreset.CUSTOM.value:
                raise ValueError("size 'custom' needs explicit pixels: {width: W, height: H}")
            if text in SIZE_NAMES:
                return text
        raise ValueError(
            f"{describe(value)} is not a size preset ({', '.join(SIZE_NAMES)}), "
            f"WIDTHxHEIGHT or {{width, height}}{did_you_mean(value, SIZE_NAMES)}"
        )

    @field_validator("model")
    @classmethod
    def _model_chain(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            if not 1 <= len(value) <= 5:
                raise ValueError("a model chain lists 1 to 5 models")
            if len(set(value)) != len(value):
                raise ValueError("a model chain lists a model more than once")
            return value[0] if len(value) == 1 else value
        return value

    @field_validator("formats", mode="before")
    @classmethod
    def _one_format(cls, value: Any) -> Any:
        return normalize_formats(value)

    @field_validator("formats")
    @classmethod
    def _unique_formats(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("formats are listed more than once")
        return value


class ImageSpec(ImageOptions):
    """One image, or with ``matrix`` a template that expands into many."""

    id: str = Field(
        description="Slug: lowercase letters, digits, '-', '_', '.'. "
        "In a template, {variables} are filled from the matrix.",
        json_schema_extra={"pattern": r"^[a-z0-9{][a-z0-9._{}-]*$"},
    )
    prompt: str = Field(min_length=1, max_length=4000)
    matrix: dict[Slug, Annotated[list[MatrixValue], Field(min_length=1)]] | None = Field(
        None,
        min_length=1,
        description="Template variables; their product expands this entry into many images. "
        "Variables named theme, size or quality also set that option.",
    )

    @field_validator("id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if "{" in value or "}" in value:
            return value  # a template: checked as it expands (see expand_images)
        if not is_valid_id(value):
            raise ValueError(f"{value!r} is not a valid id ({ID_RULES})")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value
