"""JSON Schema adjustments for the spec models.

Pydantic's generated schema describes what the models *store*; editors need
what a spec file may *say* (shorthands such as "800x600", "#RRGGBB name" or a
single format). These hooks, used as ``json_schema_extra``, make the schema
accept exactly what the validators accept.
"""

from __future__ import annotations

from typing import Any

from mediagen.spec.formats import ALIASES, FORMATS
from mediagen.spec.vocabulary import SIZE_PRESETS

SIZE_NAMES = tuple(str(preset) for preset in SIZE_PRESETS)  # every preset but 'custom'


def size_schema(schema: dict[str, Any]) -> None:
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


def brand_color_schema(schema: dict[str, Any]) -> None:
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


def formats_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of ``formats``: a list or a single format; 'jpg' means 'jpeg'."""
    names = [*FORMATS, *ALIASES]
    for branch in schema.get("anyOf", []):
        if branch.get("type") == "array":
            branch["items"] = {"type": "string", "enum": names}
    schema.setdefault("anyOf", []).insert(1, {"type": "string", "enum": names})
