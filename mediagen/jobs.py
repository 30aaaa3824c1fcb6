"""Expand a spec into flat, fully-resolved image jobs with content-addressed keys.

``gen_key`` = sha256 of everything the backend is asked (backend, model, final
prompt, size, quality, palette, seed, variant). ``out_key`` = sha256 of the
gen_key plus the processing parameters of one output. Same inputs, same keys,
on any machine: that is what makes the bucket a cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from mediagen.backends import GenerationRequest, get_backend_class, resolve_backend_name
from mediagen.errors import SpecError
from mediagen.imaging import EXTENSIONS, OutputSpec
from mediagen.presets import QUALITY_LEVELS, THEMES, Quality, SizePreset, Theme, preset_size
from mediagen.prompt import PromptParts, compose_prompt
from mediagen.settings import Settings
from mediagen.spec import CustomSize, ImageOptions, JobSpec, expand_images
from mediagen.spec_errors import clean_loc, error_message, field_path

# Bump when processing changes output bytes for the same inputs: every out_key changes.
PROCESSING_VERSION = 1

DEFAULT_OPTIONS = ImageOptions(
    size=SizePreset.STANDARD,
    quality=Quality.STANDARD,
    theme=Theme.MODERN,
    brand_colors=[],
    formats=["png"],
    constraints=[],
    tags=[],
    metadata={},
)


@dataclass(frozen=True)
class Output:
    """One file to produce from an image's original."""

    format: str
    spec: OutputSpec
    out_key: str
    object_key: str  # where it is published, relative to the bucket root


@dataclass(frozen=True)
class ImageJob:
    """One image, every option resolved. Small and picklable: tasks pass it around."""

    id: str
    subject: str
    request: GenerationRequest
    backend: str
    size_name: str
    gen_key: str
    outputs: tuple[Output, ...]
    original_key: str
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        return self.request.prompt


def canonical_hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def gen_key_for(backend: str, request: GenerationRequest, variant: int = 0) -> str:
    params = asdict(request)
    params.pop("image_id")  # renaming an image must not cost a new generation
    return canonical_hash({"backend": backend, "variant": variant, **params})


def out_key_for(gen_key: str, output: OutputSpec) -> str:
    return canonical_hash({"gen": gen_key, "v": PROCESSING_VERSION, **asdict(output)})


def prefix_of(spec: JobSpec) -> str:
    return spec.storage.prefix if spec.storage.prefix is not None else spec.name


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def expand_spec(spec: JobSpec, settings: Settings) -> list[ImageJob]:
    """Every image of the spec (templates expanded), in spec order.

    Template, id and ``max_images`` problems raise :class:`SpecError` naming
    the field (``images[2].id``). A spec read by ``load_spec`` has already been
    through the same checks, with file and line, so this only fires for specs
    built in code (e.g. ``JobSpec.model_validate``) that skipped ``parse_spec``.
    """
    instances, problems = expand_images(spec)
    if problems:
        lines = [f"{field_path(loc)}: {message}" for loc, message in problems]
        raise SpecError(f"spec {spec.name!r}: invalid spec ({len(lines)} problem(s))", lines)
    backend = resolve_backend_name(spec.backend, settings)
    default_model = get_backend_class(backend).default_model
    prefix = prefix_of(spec)
    jobs: list[ImageJob] = []
    for instance in instances:
        image = spec.images[instance.index]
        options = _merge(DEFAULT_OPTIONS, spec.defaults, image, instance.overrides)
        jobs.append(
            _make_job(spec, instance.id, instance.subject, options, backend, default_model, prefix)
        )
    return jobs


def _merge(*layers: ImageOptions | dict[str, Any]) -> ImageOptions:
    """Later layers win, field by field; unset (None) fields fall through."""
    merged: dict[str, Any] = {}
    for layer in layers:
        values = (
            layer
            if isinstance(layer, dict)
            else {name: getattr(layer, name) for name in ImageOptions.model_fields}
        )
        merged.update({k: v for k, v in values.items() if v is not None})
    try:
        return ImageOptions.model_validate(merged)
    except ValidationError as exc:  # a template variable gave a bad theme/size/quality
        # expand_images checks template values first, so this is a last line of defence.
        problems = [f"{field_path(clean_loc(e['loc']))}: {error_message(e)}" for e in exc.errors()]
        raise SpecError("invalid value from a template variable", problems) from exc


def _make_job(
    spec: JobSpec,
    image_id: str,
    subject: str,
    options: ImageOptions,
    backend: str,
    default_model: str,
    prefix: str,
) -> ImageJob:
    size = options.size
    if isinstance(size, CustomSize):
        width, height, size_name = size.width, size.height, f"{size.width}x{size.height}"
    else:
        width, height = preset_size(SizePreset(size))
        size_name = str(SizePreset(size))
    quality = Quality(options.quality)
    theme = Theme(options.theme)
    brand = [(c.hex.upper(), c.name) for c in options.brand_colors or []]
    finance = options.finance_context
    if finance is None:
        finance = spec.domain == "finance"
    prompt = compose_prompt(PromptParts(subject, theme, brand, finance, options.constraints or ()))
    level = QUALITY_LEVELS[quality]
    request = GenerationRequest(
        prompt=prompt,
        width=width,
        height=height,
        quality=str(quality),
        backend_image_size=level.backend_image_size,
        theme=str(theme),
        palette=THEMES[theme].palette,
        brand_colors=tuple(hex_ for hex_, _ in brand),
        seed=options.seed,
        model=options.model or default_model,
        image_id=image_id,
    )
    gen_key = gen_key_for(backend, request)
    outputs = []
    for fmt in options.formats or ["png"]:
        out_spec = OutputSpec(width, height, fmt, level.encoder_quality)
        out_key = out_key_for(gen_key, out_spec)
        if spec.storage.naming == "stable":  # overwritten in place: short cache
            name = f"{image_id}.{EXTENSIONS[fmt]}"
        else:  # hashed: content-addressed, immutable, CDN-safe
            name = f"{image_id}-{out_key[:8]}.{EXTENSIONS[fmt]}"
        outputs.append(Output(fmt, out_spec, out_key, _join(prefix, name)))
    return ImageJob(
        id=image_id,
        subject=subject,
        request=request,
        backend=backend,
        size_name=size_name,
        gen_key=gen_key,
        outputs=tuple(outputs),
        original_key=_join(prefix, f"_originals/{gen_key}"),
        tags=tuple(options.tags or ()),
        metadata=dict(options.metadata or {}),
    )
