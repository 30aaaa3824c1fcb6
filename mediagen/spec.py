"""The spec: Pydantic models of a YAML image spec, and ``load_spec``.

A spec is user input, so every model forbids unknown keys (a typo such as
``promt:`` is an error, not a silently ignored field). Errors are reported by
:mod:`mediagen.spec_errors` with the file, line and field path.

Validation happens in two steps, both run by :func:`parse_spec` (and so by
``load_spec`` and ``spec_from_any``):

1. the models below check every field on its own;
2. :func:`expand_images` checks what only the whole spec can tell: template
   ids and their variables, the expanded ids (slugs, no duplicates) and the
   image count against ``max_images``. ``mediagen.jobs.expand_spec`` runs the
   same function, so a spec built in code cannot skip it; ``parse_spec`` runs
   it first so these problems too are reported with file and line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
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

from mediagen.errors import SpecError
from mediagen.presets import MAX_SIDE, MIN_SIDE, SIZE_PRESETS, Quality, SizePreset, Theme
from mediagen.spec_errors import (
    HEX_RE,
    SLUG_RE,
    SLUG_RULES,
    describe,
    did_you_mean,
    error_message,
    field_path,
    format_problems,
    format_validation_error,
    locate,
)

HARD_MAX_IMAGES = 10_000
# Matrix variables with these names also set that option of each expanded image.
TEMPLATE_FIELDS = ("theme", "size", "quality")
SIZE_NAMES = tuple(str(preset) for preset in SIZE_PRESETS)  # every preset but 'custom'
FORMATS = ("png", "jpeg", "webp", "avif")
ID_RULES = f"{SLUG_RULES}; no '/' or '..'"

Slug = Annotated[str, StringConstraints(pattern=SLUG_RE)]
HexColor = Annotated[str, StringConstraints(pattern=HEX_RE)]
OutputFormat = Literal["png", "jpeg", "webp", "avif"]


class _Model(BaseModel):
    # coerce_numbers_to_str: ``name: 2024`` or ``tags: [2024]`` mean the text, as a person expects.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


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


def _size_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of ``size``: what ``_size_input`` accepts ('custom' is not a value)."""
    custom_ref = _find_ref(schema, "CustomSize")
    schema["anyOf"] = [
        {
            "type": "string",
            "enum": list(SIZE_NAMES),
            "description": "; ".join(f"{n}: {w}x{h}" for n, (w, h, _) in _named_sizes()),
        },
        {
            "type": "string",
            "pattern": r"^\d+x\d+$",
            "description": "WIDTHxHEIGHT in pixels, e.g. 800x600",
        },
        custom_ref,
        {"type": "null"},
    ]


def _find_ref(node: Any, name: str) -> dict[str, Any]:
    """The ``$ref`` object to model ``name`` in a schema fragment.

    While generating, Pydantic uses its own provisional ref strings (remapped
    at the end), so the ref is found, not written by hand.
    """
    found = _search_ref(node, name)
    if found is None:
        raise LookupError(f"no $ref to {name} in {node}")
    return found


def _search_ref(node: Any, name: str) -> dict[str, Any] | None:
    if isinstance(node, dict):
        if name in str(node.get("$ref", "")):
            return node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = _search_ref(item, name)
            if found is not None:
                return found
    return None


def _named_sizes() -> list[tuple[str, tuple[int, int, str]]]:
    return [(str(preset), spec) for preset, spec in SIZE_PRESETS.items()]


def _brand_color_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of a brand colour: the mapping, or the '#RRGGBB name' shorthand."""
    mapping = {
        key: schema.pop(key)
        for key in ("type", "properties", "required", "additionalProperties")
        if key in schema
    }
    schema["anyOf"] = [
        mapping,
        {
            "type": "string",
            "pattern": r"^#[0-9A-Fa-f]{6}( .*)?$",
            "description": "'#RRGGBB' or '#RRGGBB name'",
        },
    ]


def _formats_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of ``formats``: a list or a single format; 'jpg' means 'jpeg'."""
    names = [*FORMATS, "jpg"]
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "array":
            branch["items"] = {"type": "string", "enum": names}
    schema.setdefault("anyOf", []).insert(1, {"type": "string", "enum": names})


class BrandColor(_Model):
    """A brand colour: hex value plus an optional human name used in prompts."""

    model_config = ConfigDict(json_schema_extra=_brand_color_schema)

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
    return value


MetadataValue = Annotated[str | int | float | bool, BeforeValidator(_metadata_value)]


class ImageOptions(_Model):
    """Options an image can set, or inherit from the spec's ``defaults``."""

    size: SizeValue | None = Field(
        None,
        description="A preset name, WIDTHxHEIGHT, or {width, height} in pixels (16-8192).",
        json_schema_extra=_size_schema,
    )
    quality: Quality | None = None
    theme: Theme | None = None
    brand_colors: list[BrandColor] | None = Field(None, max_length=12)
    formats: list[OutputFormat] | None = Field(
        None, min_length=1, max_length=4, json_schema_extra=_formats_schema
    )
    finance_context: bool | None = Field(
        None, description="Add finance-app context to the prompt (default: on for finance specs)."
    )
    constraints: list[Annotated[str, StringConstraints(max_length=200)]] | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    model: str | None = Field(None, max_length=100)
    tags: list[Annotated[str, StringConstraints(max_length=60)]] | None = None
    metadata: dict[str, MetadataValue] | None = None

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

    @field_validator("formats", mode="before")
    @classmethod
    def _one_format(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = [v.strip().lower() if isinstance(v, str) else v for v in value]
            return ["jpeg" if v == "jpg" else v for v in value]
        return value

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
        "In a template, {variables} are filled from the matrix."
    )
    prompt: str = Field(min_length=1, max_length=4000)
    matrix: dict[Slug, Annotated[list[MatrixValue], Field(min_length=1)]] | None = Field(
        None,
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
    endpoint_url: str | None = None
    public: bool = Field(False, description="Publish objects public-read. Private by default.")
    public_base_url: str | None = Field(
        None, description="Base URL (e.g. a CDN) that object keys are appended to."
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


# --- templates and expansion -------------------------------------------------

Loc = tuple[Any, ...]
_TEMPLATE_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def template_variables(text: str) -> list[str]:
    """Names of the ``{variables}`` in ``text``, in order (``{{``/``}}`` are literal braces)."""
    return [m.group(1) for m in _TEMPLATE_TOKEN.finditer(text) if m.group(1) is not None]


def fill_template(text: str, variables: dict[str, str]) -> str:
    """Replace each ``{name}`` with its value; ``{{`` and ``}}`` give literal braces.

    Unlike ``str.format`` there is no attribute access or format spec: a
    template can only insert the values it was given (KeyError otherwise).
    """

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return variables[match.group(1)]

    return _TEMPLATE_TOKEN.sub(sub, text)


def expansion_size(image: ImageSpec) -> int:
    """How many images an entry makes (computed, not expanded)."""
    if image.matrix is None:
        return 1
    return math.prod(len(values) for values in image.matrix.values())


@dataclass(frozen=True)
class ImageInstance:
    """One image of the expanded spec: an entry of ``images``, with its template filled."""

    index: int  # position of the entry in spec.images
    id: str
    subject: str  # the prompt, template variables filled
    variables: dict[str, str] = field(default_factory=dict)
    # Options set by matrix variables named theme, size or quality.
    overrides: dict[str, str] = field(default_factory=dict)


def expand_images(spec: JobSpec) -> tuple[list[ImageInstance], list[tuple[Loc, str]]]:
    """Every image of the spec, templates filled, and the problems found on the way.

    Problems are ``(loc, message)`` pairs, ``loc`` a field path in the spec
    (``("images", 2, "id")``), so a caller holding the YAML can name the line.
    Nothing is expanded when the spec would exceed ``max_images``.
    """
    problems: list[tuple[Loc, str]] = []
    sizes = [expansion_size(image) for image in spec.images]
    running = 0
    for index, count in enumerate(sizes):
        running += count
        if running > spec.max_images:
            loc: Loc = ("images", index, "matrix") if spec.images[index].matrix else ("images",)
            problems.append(
                (
                    loc,
                    f"the spec expands to {sum(sizes)} images, more than "
                    f"max_images={spec.max_images}; raise max_images (at most "
                    f"{HARD_MAX_IMAGES}) or split the spec",
                )
            )
            return [], problems

    instances: list[ImageInstance] = []
    first_use: dict[str, int] = {}
    for index, image in enumerate(spec.images):
        entry_problems = _template_problems(image, index)
        if entry_problems:
            problems.extend(entry_problems)
            continue
        bad_ids: list[str] = []
        duplicates: list[tuple[str, int]] = []
        for instance in _instances(image, index):
            if not is_valid_id(instance.id):
                bad_ids.append(instance.id)
            elif instance.id in first_use:
                duplicates.append((instance.id, first_use[instance.id]))
            else:
                first_use[instance.id] = index
                instances.append(instance)
        where: Loc = ("images", index, "id")
        if bad_ids:
            more = f" (and {len(bad_ids) - 1} more)" if len(bad_ids) > 1 else ""
            problems.append(
                (
                    where,
                    f"template gives id {bad_ids[0]!r}{more}, which is not a valid id ({ID_RULES})",
                )
            )
        if duplicates:
            dup_id, other = duplicates[0]
            more = f" (and {len(duplicates) - 1} more)" if len(duplicates) > 1 else ""
            message = f"duplicate id {dup_id!r}{more}, first used by images[{other}]"
            unused = sorted(set(image.matrix or ()) - set(template_variables(image.id)))
            if unused:
                message += f"; put every matrix variable in the id (missing: {', '.join(unused)})"
            problems.append((where, message))
    return instances, problems


def _template_problems(image: ImageSpec, index: int) -> list[tuple[Loc, str]]:
    id_loc: Loc = ("images", index, "id")
    used = template_variables(image.id)
    if image.matrix is None:
        if used or "{" in image.id or "}" in image.id:
            return [(id_loc, f"id {image.id!r} uses {{variables}} but the image has no matrix")]
        return []
    problems: list[tuple[Loc, str]] = []
    defined = ", ".join(image.matrix)
    unknown = [name for name in dict.fromkeys(used) if name not in image.matrix]
    if unknown:
        problems.append(
            (
                id_loc,
                f"template {image.id!r} uses undefined variable(s) "
                f"{', '.join(map(repr, unknown))}; the matrix defines: {defined}",
            )
        )
    elif not used:
        problems.append(
            (
                id_loc,
                f"a template id must use its matrix variables, e.g. "
                f"'{image.id}-{{{next(iter(image.matrix))}}}'",
            )
        )
    unknown = [n for n in dict.fromkeys(template_variables(image.prompt)) if n not in image.matrix]
    if unknown:
        problems.append(
            (
                ("images", index, "prompt"),
                f"prompt uses undefined variable(s) "
                f"{', '.join(map(repr, unknown))}; the matrix defines: {defined}",
            )
        )
    for name in TEMPLATE_FIELDS:
        for position, value in enumerate(image.matrix.get(name, ())):
            try:
                ImageOptions.model_validate({name: str(value)})
            except ValidationError as exc:
                problems.append(
                    (
                        ("images", index, "matrix", name, position),
                        f"matrix variable {name!r} sets the {name}: "
                        f"{error_message(exc.errors()[0])}",
                    )
                )
    return problems


def _instances(image: ImageSpec, index: int) -> list[ImageInstance]:
    if image.matrix is None:
        return [ImageInstance(index, image.id, image.prompt)]
    names = list(image.matrix)
    out = []
    for values in itertools.product(*(image.matrix[n] for n in names)):
        variables = {n: str(v) for n, v in zip(names, values, strict=True)}
        overrides = {k: variables[k] for k in TEMPLATE_FIELDS if k in variables}
        out.append(
            ImageInstance(
                index,
                fill_template(image.id, variables),
                fill_template(image.prompt, variables),
                variables,
                overrides,
            )
        )
    return out


# --- loading -----------------------------------------------------------------


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def parse_spec(data: Any, source: str = "<inline spec>", root_node: Any = None) -> JobSpec:
    """Validate an already-parsed mapping; errors name ``source`` (and lines if known)."""
    if not isinstance(data, dict):
        if data is None:
            raise SpecError(f"{source}: the spec is empty; it needs at least 'name' and 'images'")
        where = locate(source, root_node, ())
        raise SpecError(
            f"{where}: a spec must be a mapping (name: ..., images: ...), not {describe(data)}"
        )
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc, source, root_node)
        raise SpecError(
            f"{source}: invalid spec ({_count(len(problems), 'problem')})", problems
        ) from exc
    _, expansion = expand_images(spec)
    if expansion:
        problems = format_problems(expansion, source, root_node)
        raise SpecError(f"{source}: invalid spec ({_count(len(problems), 'problem')})", problems)
    return spec


def load_spec(path: str | Path) -> JobSpec:
    """Read and validate a YAML spec file.

    Raises ``FileNotFoundError`` for a missing file and :class:`SpecError`
    (naming file, line and field) for anything wrong inside it.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"{path}:{line}:1: not UTF-8 text (byte {exc.start})") from exc
    return load_spec_text(text, str(path))


def load_spec_text(text: str, source: str = "<spec>") -> JobSpec:
    """Validate YAML text; ``source`` names it in error messages."""
    data, root_node = _parse_yaml(text, source)
    if root_node is None:  # no document at all (empty, or only comments)
        raise SpecError(f"{source}:1:1: the spec is empty; it needs at least 'name' and 'images'")
    return parse_spec(data, source, root_node)


def _parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The data and the composed node tree (for line numbers), parsed once."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        duplicates = list(_duplicate_keys(root, (), set()))
        if duplicates:
            problems = [
                f"{source}:{key.start_mark.line + 1}:{key.start_mark.column + 1}: "
                f"{field_path(loc)}: duplicate key {loc[-1]!r} (first at line {first})"
                for loc, key, first in duplicates
            ]
            raise SpecError(
                f"{source}: invalid spec ({_count(len(problems), 'problem')})", problems
            )
        return loader.construct_document(root), root
    except yaml.YAMLError as exc:
        raise SpecError(_yaml_message(exc, source)) from exc
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    problem = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark is not mark:
        started = f"line {context_mark.line + 1}"
        if problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{context} (from {started}), {problem}"
        else:  # "expected ',' or ']' ... (while parsing a flow sequence from line 7)"
            problem = f"{problem} ({context} from {started})"
    return f"{where}: not valid YAML: {problem}"


def _duplicate_keys(
    node: yaml.Node, loc: Loc, visited: set[int]
) -> Iterator[tuple[Loc, yaml.Node, int]]:
    """``(loc, key node, first line)`` of every key given twice in one mapping.

    PyYAML silently keeps the last value of a repeated key; in a spec that is
    almost always a mistake (two ``quality:`` lines), so it is an error.
    """
    if id(node) in visited:  # an alias: already checked (and no exponential walk)
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key != "<<":
                if key in first:
                    yield (*loc, key), key_node, first[key]
                else:
                    first[key] = key_node.start_mark.line + 1
            yield from _duplicate_keys(value_node, (*loc, key), visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, index), visited)


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
