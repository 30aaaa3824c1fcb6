"""The spec: Pydantic models of a YAML image spec, and ``load_spec``.

A spec is user input, so every model forbids unknown keys (a typo such as
``promt:`` is an error, not a silently ignored field). Errors are reported by
:mod:`mediagen.spec.diagnostics` with the file, line and field path. Reading files and
YAML safely (size, kind of file, characters, nesting, NaN) is
:mod:`mediagen.spec.loader`; the caps a spec must stay under are :mod:`mediagen.spec.limits`.

Validation happens in two steps, both run by :func:`parse_spec` (and so by
``load_spec`` and ``spec_from_any``):

1. the models below check every field on its own;
2. :func:`expand_images` checks what only the whole spec can tell: template
   ids and their variables, the expanded ids (slugs, no duplicates) and the
   image count against ``max_images``. ``mediagen.plan.jobs.expand_spec`` runs the
   same function, so a spec built in code cannot skip it; ``parse_spec`` runs
   it first so these problems too are reported with file and line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mediagen.engine.ratelimit import RateLimit
from mediagen.errors import SpecError
from mediagen.spec import loader
from mediagen.spec.diagnostics import (
    HEX_RE,
    SLUG_RE,
    SLUG_RULES,
    describe,
    did_you_mean,
    format_problems,
    format_validation_error,
    locate,
)
from mediagen.spec.limits import MAX_IMAGES, Limits, is_http_url
from mediagen.spec.limits import current as current_limits
from mediagen.spec.schema import (
    SIZE_NAMES,
    brand_color_schema,
    formats_schema,
    size_schema,
)
from mediagen.spec.vocabulary import MAX_SIDE, MIN_SIDE, Quality, SizePreset, Theme

HARD_MAX_IMAGES = MAX_IMAGES  # a worker may lower it (MEDIAGEN_MAX_IMAGES), never raise it
# Matrix variables with these names also set that option of each expanded image.
TEMPLATE_FIELDS = ("theme", "size", "quality")
ID_RULES = f"{SLUG_RULES}; no '/' or '..'"
HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+"  # what is_http_url accepts, for editors
Loc = tuple[Any, ...]  # a field path in a spec, e.g. ("images", 2, "id")

Slug = Annotated[str, StringConstraints(pattern=SLUG_RE)]
HexColor = Annotated[str, StringConstraints(pattern=HEX_RE)]
OutputFormat = Literal["png", "jpeg", "webp", "avif"]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class _Model(BaseModel):
    # coerce_numbers_to_str: ``name: 2024`` or ``tags: [2024]`` mean the text, as a person expects.
    # allow_inf_nan=False: NaN/infinity (even as the text "nan") cannot go into a JSON manifest.
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, allow_inf_nan=False
    )


def is_valid_id(value: str) -> bool:
    """An image id is a slug without '..' (it becomes part of an object key)."""
    return re.fullmatch(SLUG_RE, value) is not None and ".." not in value


class CustomSize(_Model):
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


class BrandColor(_Model):
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


def _format_list(value: Any) -> Any:
    """A single format is a list of one; 'jpg' means 'jpeg'; case and spaces do not matter."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = [v.strip().lower() if isinstance(v, str) else v for v in value]
        return ["jpeg" if v == "jpg" else v for v in value]
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


class FocalXY(_Model):
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


class Variants(_Model):
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
        return _format_list(value)

    @field_validator("widths")
    @classmethod
    def _unique_widths(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("widths are listed more than once")
        return value


class BrandFitCheck(_Model):
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


class ImageOptions(_Model):
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
        return _format_list(value)

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


class StorageTarget(_Model):
    """Where images are published."""

    provider: Literal["local", "s3", "digitalocean"] = "local"
    bucket: str | None = Field(
        None,
        description="Bucket name; for 'local', a folder (default: $MEDIAGEN_BUCKET_DIR "
        "or ./media-bucket).",
        validate_default=True,
    )
    prefix: str | None = Field(
        None, description="Key prefix inside the bucket (default: the spec name)."
    )
    region: str | None = None
    endpoint_url: str | None = Field(None, json_schema_extra={"pattern": HTTP_URL_PATTERN})
    public: bool = Field(False, description="Publish objects public-read. Private by default.")
    public_base_url: str | None = Field(
        None,
        description="Base URL (e.g. a CDN) that object keys are appended to: http(s) only.",
        json_schema_extra={"pattern": HTTP_URL_PATTERN},
    )
    cdn: bool = Field(False, description="DigitalOcean: use the Spaces CDN URL form.")
    naming: Literal["hashed", "stable"] = Field(
        "hashed",
        description="Object keys: 'hashed' = {prefix}/{id}-{hash8}.{ext}, immutable and "
        "CDN-safe; 'stable' = {prefix}/{id}.{ext}, overwritten in place, short cache.",
    )
    presign_expiry: int | None = Field(
        None,
        ge=60,
        le=604800,
        description="Private S3 storage only: the manifest carries presigned URLs valid for "
        "this many seconds (at most 7 days); each manifest write signs them anew.",
    )
    shared_prefix: bool = Field(
        False,
        description="Let several specs publish under the same prefix (every one of them must "
        "say so). Each keeps its own manifest, {prefix}/manifest.{name}.json, and prune and "
        "delete never touch another spec's objects. Default: the prefix belongs to one spec "
        "and any other spec is refused.",
    )

    @field_validator("bucket")
    @classmethod
    def _needs_bucket(cls, value: str | None, info: ValidationInfo) -> str | None:
        provider = info.data.get("provider")  # absent when the provider itself is invalid
        if provider not in (None, "local") and not (value or "").strip():
            raise ValueError(f"provider {provider!r} needs a bucket name")
        return value

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip("/")
        parts = value.split("/") if value else []
        if any(p in ("", ".", "..") for p in parts) or "\\" in value:
            raise ValueError(
                f"prefix {value!r} must be a relative key path without '.', '..', '//' or '\\'"
            )
        return value

    @field_validator("endpoint_url", "public_base_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        # The base URL lands in manifests, srcset and <picture>: a javascript: URL would run.
        if value is not None and not is_http_url(value):
            raise ValueError(f"{describe(value)} is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _needs_region(self) -> StorageTarget:
        if self.provider == "digitalocean" and not self.region and not self.endpoint_url:
            raise ValueError("provider 'digitalocean' needs a region (e.g. nyc3)")
        if self.presign_expiry is not None and (self.public or self.provider == "local"):
            raise ValueError(
                "presign_expiry is for private S3/Spaces storage: public objects need no "
                "signature and a local folder cannot sign"
            )
        return self


class JobSpec(_Model):
    """A whole spec file."""

    name: Slug = Field(description="Spec name; also the default key prefix.")
    version: str = Field("1", json_schema_extra={"type": ["string", "number"]})
    description: str = ""
    domain: Literal["finance", "general"] = Field(
        "finance", description="'finance' turns finance context on by default."
    )
    backend: str | None = Field(
        None, description="Image backend (offline, gemini, or a plugin). Default: auto."
    )
    concurrency: int | None = Field(None, ge=1, le=256)
    max_images: int = Field(
        1000,
        ge=1,
        le=HARD_MAX_IMAGES,
        description=f"Cap on images after templates expand (at most {HARD_MAX_IMAGES}).",
    )
    budget_usd: float | None = Field(
        None,
        gt=0,
        description="Spend cap in USD: a run whose estimate exceeds it does not start, and "
        "no new image is generated once spend would pass it.",
    )
    rate_limits: dict[str, RateLimit] | None = Field(
        None,
        description="Per-model limits, {model or '*': {requests_per_minute, max_concurrency}}, "
        "shared by every task of a run.",
    )
    storage: StorageTarget = StorageTarget()
    defaults: ImageOptions = ImageOptions()
    images: list[ImageSpec] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def content_hash(self) -> str:
        """sha256 of the canonical JSON of the spec (same spec → same hash)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# --- loading (reading and YAML: mediagen.spec.loader; caps: mediagen.spec.limits) ------


def parse_spec(
    data: Any, source: str = "<inline spec>", root_node: Any = None, limits: Limits | None = None
) -> JobSpec:
    """Validate an already-parsed mapping; errors name ``source`` (and lines if known)."""
    limits = limits or current_limits()
    if not isinstance(data, dict):
        if data is None:
            raise SpecError(f"{source}: the spec is empty; it needs at least 'name' and 'images'")
        where = locate(source, root_node, ())
        raise SpecError(
            f"{where}: a spec must be a mapping (name: ..., images: ...), not {describe(data)}"
        )
    if root_node is None:  # inline data (API, deployment parameter): no file was size-checked
        loader.check_data_size(data, source, limits.spec_max_bytes)
    loader.check_values(data, source, root_node, limits.spec_max_depth)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc, source, root_node)
        raise SpecError(
            f"{source}: invalid spec ({loader.count(len(problems), 'problem')})", problems
        ) from exc
    from mediagen.spec.templates import expand_images  # templates build on these models

    _, expansion = expand_images(spec, limits)
    if expansion:
        problems = format_problems(expansion, source, root_node)
        raise SpecError(
            f"{source}: invalid spec ({loader.count(len(problems), 'problem')})", problems
        )
    return spec


def load_spec(path: str | Path, limits: Limits | None = None) -> JobSpec:
    """Read and validate a YAML spec file.

    Raises ``FileNotFoundError`` for a missing file and :class:`SpecError`
    (naming file, line and field) for anything wrong inside it, including a
    file that is too big or is not a regular file (a FIFO, ``/dev/zero``).
    """
    limits = limits or current_limits()
    text = loader.read_spec_file(Path(path), limits.spec_max_bytes)
    return load_spec_text(text, str(path), limits)


def load_spec_text(text: str, source: str = "<spec>", limits: Limits | None = None) -> JobSpec:
    """Validate YAML text; ``source`` names it in error messages."""
    limits = limits or current_limits()
    loader.check_text_size(text, source, limits.spec_max_bytes)
    data, root_node = loader.parse_yaml(text, source, limits.spec_max_depth)
    if root_node is None:  # no document at all (empty, or only comments)
        raise SpecError(f"{source}:1:1: the spec is empty; it needs at least 'name' and 'images'")
    return parse_spec(data, source, root_node, limits)


def spec_from_any(spec: JobSpec | dict[str, Any] | str | Path) -> JobSpec:
    """Accept a model, an inline mapping, a path, or YAML text.

    A one-line string without ':' is taken as a path, so a missing file raises
    ``FileNotFoundError`` instead of "a spec must be a mapping".
    """
    if isinstance(spec, JobSpec):
        return spec
    if isinstance(spec, dict):
        return parse_spec(spec)
    if isinstance(spec, Path):
        return load_spec(spec)
    text = str(spec)
    if "\n" not in text and (text.endswith((".yaml", ".yml")) or ":" not in text or _is_file(text)):
        return load_spec(text)
    return load_spec_text(text)


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # too long, or a NUL byte: not a path
        return False


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec, for editors and validators."""
    schema = JobSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mediagen spec"
    return schema
