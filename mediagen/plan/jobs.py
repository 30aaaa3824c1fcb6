"""Expand a spec into flat, fully-resolved image jobs with content-addressed keys.

``gen_key`` = sha256 of everything the backend is asked (backend, model, final
prompt, size, quality, palette, seed, variant). ``out_key`` = sha256 of the
gen_key plus the processing parameters of one output. Same inputs, same keys,
on any machine: that is what makes the bucket a cache. The hashes and every
object key are computed by :mod:`mediagen.plan.keys`; this module decides the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mediagen.backends import GenerationRequest, get_backend_class, resolve_backend_name
from mediagen.errors import SpecError
from mediagen.imaging.codec import OutputSpec
from mediagen.imaging.crops import DEFAULT_FOCAL
from mediagen.imaging.crops import normalize as normalize_focal
from mediagen.imaging.facts import FACTS_VERSION, BrandCheck
from mediagen.imaging.renditions import rendition_specs
from mediagen.plan import keys
from mediagen.plan.keys import (  # re-exported: the hashes were defined here before plan.keys
    PROCESSING_VERSION as PROCESSING_VERSION,
)
from mediagen.plan.keys import canonical_hash as canonical_hash
from mediagen.plan.keys import gen_key_for as gen_key_for
from mediagen.plan.keys import out_key_for as out_key_for
from mediagen.plan.keys import prefix_of as prefix_of
from mediagen.plan.prompt import PromptParts, compose_prompt
from mediagen.settings import Settings
from mediagen.spec import alt_text as alt
from mediagen.spec.diagnostics import clean_loc, error_message, field_path
from mediagen.spec.formats import EXTENSIONS
from mediagen.spec.limits import Limits
from mediagen.spec.models import CustomSize, FocalXY, ImageOptions, JobSpec
from mediagen.spec.selection import DEFAULT_CANDIDATES, DEFAULT_PICK
from mediagen.spec.templates import expand_images, fill_template
from mediagen.spec.vocabulary import QUALITY_LEVELS, THEMES, Quality, SizePreset, Theme, preset_size

DEFAULT_OPTIONS = ImageOptions(
    size=SizePreset.STANDARD,
    quality=Quality.STANDARD,
    theme=Theme.MODERN,
    brand_colors=[],
    formats=["png"],
    constraints=[],
    tags=[],
    metadata={},
    candidates=DEFAULT_CANDIDATES,
    pick=DEFAULT_PICK,
    keep_candidates=False,
)


@dataclass(frozen=True)
class Output:
    """One file to produce from an image's original."""

    format: str
    spec: OutputSpec
    out_key: str
    object_key: str  # where it is published, relative to the bucket root


@dataclass(frozen=True)
class Keying:
    """What an image's keys hash besides its request: enough to re-key the job for another
    request (a candidate's seed, a reviewer's note: :mod:`mediagen.plan.candidates`)."""

    prefix: str
    naming: str  # storage.naming: 'hashed' | 'stable'
    out_extra: dict[str, Any]  # processing inputs of every out_key (focal, alt)
    facts: dict[str, Any]  # the inputs of facts_key besides the gen_key


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
    # Web outputs (issue 8): crop focus, alt text, brand check, <picture> sizes.
    focal_point: str = DEFAULT_FOCAL
    alt_text: str | None = None  # "auto" or text a person wrote
    purpose: str = ""  # what the image is for: given to a describing model
    brand_check: BrandCheck | None = None
    picture_sizes: str = "100vw"
    facts_key: str = ""  # changes when placeholders/colours/brand fit/snippets must be redone
    # Candidates (issue 17, mediagen.spec.selection): how many generations, how one is chosen.
    candidates: int = 1
    pick: str = "auto"  # a PickMode value
    keep_candidates: bool = False
    keying: Keying | None = None

    @property
    def prompt(self) -> str:
        return self.request.prompt


def expand_spec(spec: JobSpec, settings: Settings) -> list[ImageJob]:
    """Every image of the spec (templates expanded), in spec order.

    Template, id and ``max_images`` problems raise :class:`SpecError` naming
    the field (``images[2].id``). A spec read by ``load_spec`` has already been
    through the same checks, with file and line, so this only fires for specs
    built in code (e.g. ``JobSpec.model_validate``) that skipped ``parse_spec``.
    """
    instances, problems = expand_images(spec, Limits.from_settings(settings))
    if problems:
        lines = [f"{field_path(loc)}: {message}" for loc, message in problems]
        raise SpecError(f"spec {spec.name!r}: invalid spec ({len(lines)} problem(s))", lines)
    backend = resolve_backend_name(spec.backend, settings)
    backend_class = get_backend_class(backend)
    backend_class.own_settings(settings)  # its own settings, checked now: a bad one fails here
    default_model = backend_class.default_model
    prefix = prefix_of(spec)
    jobs: list[ImageJob] = []
    unsupported: list[str] = []
    for instance in instances:
        image = spec.images[instance.index]
        options = _merge(DEFAULT_OPTIONS, spec.defaults, image, instance.overrides)
        if image.matrix and image.alt_text is not None and not alt.is_auto(image.alt_text):
            # Written for a template: each expanded image gets its own variables filled.
            options = options.model_copy(
                update={"alt_text": fill_template(image.alt_text, instance.variables)}
            )
        job = _make_job(
            spec, instance.id, instance.subject, options, backend, default_model, prefix
        )
        problem = backend_class.check_request(job.request)  # e.g. a model shut down
        if problem:
            unsupported.append(f"images[{instance.index}] ({job.id}): {problem}")
        jobs.append(job)
    if unsupported:
        raise SpecError(
            f"spec {spec.name!r}: backend {backend!r} cannot make {len(unsupported)} image(s)",
            unsupported,
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
    chain = options.model if isinstance(options.model, list) else [options.model or default_model]
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
        model=chain[0],
        image_id=image_id,
        fallback_models=tuple(chain[1:]),
    )
    gen_key = gen_key_for(backend, request)
    focal = _focal_text(options.focal_point)
    alt_text = options.alt_text
    purpose = alt.purpose_for(subject, size_name, width, height)
    alt_marker: Any = None
    if alt_text is not None:
        alt_marker = {"auto": purpose} if alt.is_auto(alt_text) else alt_text
    extra: dict[str, Any] = {}
    if focal != DEFAULT_FOCAL:
        extra["focal"] = focal
    if alt_marker is not None:
        extra["alt"] = alt_marker  # alt text is written into every file's XMP
    formats = options.formats or ["png"]
    specs = [OutputSpec(width, height, fmt, level.encoder_quality) for fmt in formats]
    variants = options.variants
    if variants is not None:
        specs += rendition_specs(
            width, height, variants.widths, variants.formats or formats, level.encoder_quality
        )
    outputs: list[Output] = []
    seen: set[str] = set()
    for index, out_spec in enumerate(specs):
        out_key = out_key_for(gen_key, out_spec, extra)
        if out_key in seen:  # a rendition the same as a main output
            continue
        seen.add(out_key)
        object_key = keys.output_key(
            prefix,
            image_id,
            out_key,
            EXTENSIONS[out_spec.format],
            naming=spec.storage.naming,
            width=None if index < len(formats) else out_spec.width,  # a rendition
        )
        outputs.append(Output(out_spec.format, out_spec, out_key, object_key))
    check = None
    if options.brand_fit is not None:
        check = BrandCheck(options.brand_fit.max_delta_e, options.brand_fit.min_score)
    sizes = variants.sizes if variants is not None else "100vw"
    facts_inputs = {
        "v": FACTS_VERSION,
        "size": [width, height],
        "focal": focal,
        "brand": [hex_ for hex_, _ in brand],
        "check": [check.max_delta_e, check.min_score] if check else None,
        "sizes": sizes,
        "alt": alt_marker,
    }
    facts_key = keys.facts_key_for(gen_key, **facts_inputs)
    return ImageJob(
        id=image_id,
        subject=subject,
        request=request,
        backend=backend,
        size_name=size_name,
        gen_key=gen_key,
        outputs=tuple(outputs),
        original_key=keys.original_base(prefix, gen_key),
        tags=tuple(options.tags or ()),
        metadata=dict(options.metadata or {}),
        focal_point=focal,
        alt_text=alt_text,
        purpose=purpose,
        brand_check=check,
        picture_sizes=sizes,
        facts_key=facts_key,
        candidates=options.candidates or DEFAULT_CANDIDATES,
        pick=str(options.pick or DEFAULT_PICK),
        keep_candidates=bool(options.keep_candidates),
        keying=Keying(prefix, spec.storage.naming, extra, facts_inputs),
    )


def _focal_text(value: str | FocalXY | None) -> str:
    if isinstance(value, FocalXY):
        return normalize_focal(f"{value.x:.6f},{value.y:.6f}")
    return normalize_focal(value)
