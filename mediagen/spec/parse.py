"""Reading a spec: from a file, YAML text, an inline mapping or a model, to a :class:`JobSpec`.

Validation happens in two steps, both run by :func:`parse_spec` (and so by
``load_spec`` and ``spec_from_any``):

1. the models (:mod:`mediagen.spec.job` and its parts) check every field on its own;
2. :func:`mediagen.spec.templates.expand_images` checks what only the whole spec
   can tell: template ids and their variables, the expanded ids (slugs, no
   duplicates) and the image count against ``max_images``.
   ``mediagen.plan.jobs.expand_spec`` runs the same function, so a spec built in
   code cannot skip it; ``parse_spec`` runs it first so these problems too are
   reported with file and line.

Errors are reported by :mod:`mediagen.spec.diagnostics` with the file, line and
field path. Reading files and YAML safely (size, kind of file, characters,
nesting, NaN) is :mod:`mediagen.spec.loader`; the caps a spec must stay under are
:mod:`mediagen.spec.limits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mediagen.errors import SpecError
from mediagen.spec import loader
from mediagen.spec.diagnostics import describe, format_problems, format_validation_error, locate
from mediagen.spec.job import JobSpec
from mediagen.spec.limits import Limits
from mediagen.spec.limits import current as current_limits
from mediagen.spec.references import origin_of
from mediagen.spec.templates import expand_images


def parse_spec(
    data: Any,
    source: str = "<inline spec>",
    root_node: Any = None,
    limits: Limits | None = None,
    base_dir: str | None = None,
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
        problems = format_validation_error(exc, source, root_node, JobSpec)
        raise SpecError(
            f"{source}: invalid spec ({loader.count(len(problems), 'problem')})", problems
        ) from exc
    _, expansion = expand_images(spec, limits)
    if expansion:
        problems = format_problems(expansion, source, root_node)
        raise SpecError(
            f"{source}: invalid spec ({loader.count(len(problems), 'problem')})", problems
        )
    spec._origin = origin_of(data, source, root_node, base_dir)
    return spec


def load_spec(path: str | Path, limits: Limits | None = None) -> JobSpec:
    """Read and validate a YAML spec file.

    Raises ``FileNotFoundError`` for a missing file and :class:`SpecError`
    (naming file, line and field) for anything wrong inside it, including a
    file that is too big or is not a regular file (a FIFO, ``/dev/zero``).
    """
    limits = limits or current_limits()
    text = loader.read_spec_file(Path(path), limits.spec_max_bytes)
    return load_spec_text(text, str(path), limits, base_dir=str(Path(path).resolve().parent))


def load_spec_text(
    text: str, source: str = "<spec>", limits: Limits | None = None, base_dir: str | None = None
) -> JobSpec:
    """Validate YAML text; ``source`` names it in error messages."""
    limits = limits or current_limits()
    loader.check_text_size(text, source, limits.spec_max_bytes)
    data, root_node = loader.parse_yaml(text, source, limits.spec_max_depth)
    if root_node is None:  # no document at all (empty, or only comments)
        raise SpecError(f"{source}:1:1: the spec is empty; it needs at least 'name' and 'images'")
    return parse_spec(data, source, root_node, limits, base_dir)


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
