"""What every spec model shares: the strict base class and the small field types.

A spec is user input, so every model forbids unknown keys (a typo such as
``promt:`` is an error, not a silently ignored field) and is frozen.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from mediagen.spec.diagnostics import HEX_RE, SLUG_RE, SLUG_RULES

ID_RULES = f"{SLUG_RULES}; no '/' or '..'"
HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+"  # what is_http_url accepts, for editors
Loc = tuple[Any, ...]  # a field path in a spec, e.g. ("images", 2, "id")

Slug = Annotated[str, StringConstraints(pattern=SLUG_RE)]
HexColor = Annotated[str, StringConstraints(pattern=HEX_RE)]
ModelName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class SpecModel(BaseModel):
    """Base of the spec models: strict, frozen, JSON-safe."""

    # coerce_numbers_to_str: ``name: 2024`` or ``tags: [2024]`` mean the text, as a person expects.
    # allow_inf_nan=False: NaN/infinity (even as the text "nan") cannot go into a JSON manifest.
    model_config = ConfigDict(
        extra="forbid", frozen=True, coerce_numbers_to_str=True, allow_inf_nan=False
    )


def is_valid_id(value: str) -> bool:
    """An image id is a slug without '..' (it becomes part of an object key)."""
    return re.fullmatch(SLUG_RE, value) is not None and ".." not in value
