"""Template expansion: a matrix of variables turns one spec entry into many images.

``{name}`` placeholders in an entry's id and prompt are filled from the product
of its ``matrix`` values (``{{``/``}}`` stay literal braces). Problems come back
as ``(loc, message)`` pairs so a caller holding the YAML can name the line.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from mediagen.spec.base import ID_RULES, Loc, is_valid_id
from mediagen.spec.diagnostics import error_message
from mediagen.spec.images import ImageOptions, ImageSpec
from mediagen.spec.job import HARD_MAX_IMAGES, TEMPLATE_FIELDS, JobSpec
from mediagen.spec.limits import MAX_ALT_TEXT_CHARS, Limits
from mediagen.spec.limits import current as current_limits

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


def expand_images(
    spec: JobSpec, limits: Limits | None = None
) -> tuple[list[ImageInstance], list[tuple[Loc, str]]]:
    """Every image of the spec, templates filled, and the problems found on the way.

    Problems are ``(loc, message)`` pairs, ``loc`` a field path in the spec
    (``("images", 2, "id")``), so a caller holding the YAML can name the line.
    Nothing is expanded when the spec would exceed its image cap, or when a filled
    template would exceed a length cap (both computed without expanding).
    """
    limits = limits or current_limits()
    problems: list[tuple[Loc, str]] = []
    sizes = [expansion_size(image) for image in spec.images]
    cap = min(spec.max_images, limits.max_images)
    running = 0
    for index, count in enumerate(sizes):
        running += count
        if running > cap:
            loc: Loc = ("images", index, "matrix") if spec.images[index].matrix else ("images",)
            if cap < spec.max_images:
                why = f"this worker's cap of {cap} (MEDIAGEN_MAX_IMAGES)"
            else:
                why = (
                    f"max_images={spec.max_images}; raise max_images (at most "
                    f"{min(HARD_MAX_IMAGES, limits.max_images)})"
                )
            problems.append(
                (loc, f"the spec expands to {sum(sizes)} images, more than {why} or split the spec")
            )
            return [], problems

    instances: list[ImageInstance] = []
    first_use: dict[str, int] = {}
    for index, image in enumerate(spec.images):
        entry_problems = _template_problems(image, index) or _length_problems(image, index, limits)
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
    if image.alt_text is not None:
        alt_vars = template_variables(image.alt_text)
        unknown = [n for n in dict.fromkeys(alt_vars) if n not in image.matrix]
        if unknown:
            problems.append(
                (
                    ("images", index, "alt_text"),
                    f"alt_text uses undefined variable(s) "
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


def filled_length(text: str, longest: dict[str, int]) -> int:
    """Length of ``text`` once filled, each variable taking its longest value."""
    length = len(text)
    for match in _TEMPLATE_TOKEN.finditer(text):
        token = match.group(0)
        length += -1 if token in ("{{", "}}") else longest[match.group(1)] - len(token)
    return length


def _length_problems(image: ImageSpec, index: int, limits: Limits) -> list[tuple[Loc, str]]:
    """Caps on what each expanded image holds, checked before anything is expanded."""
    problems: list[tuple[Loc, str]] = []
    longest: dict[str, int] = {}
    for name, values in (image.matrix or {}).items():
        lengths = [len(str(value)) for value in values]
        longest[name] = max(lengths)
        for position, length in enumerate(lengths):
            if length > limits.max_matrix_value_chars:
                problems.append(
                    (
                        ("images", index, "matrix", name, position),
                        f"is too long ({length} characters, at most "
                        f"{limits.max_matrix_value_chars}: MEDIAGEN_MAX_MATRIX_VALUE_CHARS)",
                    )
                )
                break
    if problems:
        return problems
    caps = [
        ("id", image.id, limits.max_id_chars, "MEDIAGEN_MAX_ID_CHARS"),
        ("prompt", image.prompt, limits.max_prompt_chars, "MEDIAGEN_MAX_PROMPT_CHARS"),
        ("alt_text", image.alt_text or "", MAX_ALT_TEXT_CHARS, "the alt_text limit"),
    ]
    for field_name, text, cap, setting in caps:
        length = filled_length(text, longest) if image.matrix else len(text)
        if length > cap:
            filled = " once its {variables} are filled" if image.matrix else ""
            problems.append(
                (
                    ("images", index, field_name),
                    f"is too long{filled} (up to {length} characters, at most {cap}: {setting})",
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
