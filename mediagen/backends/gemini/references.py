"""Reference images in a Gemini request: the parts sent, and what each role says.

With references, a request's ``contents`` are the prompt's text part, then per
reference a short text part naming it and its role, then the picture itself
as an inline image part (``inlineData``, base64 in the JSON body)::

    "<the prompt>"
    "Reference 1 (logo): reproduce this logo faithfully; do not redraw or restyle it."
    <inline image 1>
    "Reference 2 (style): follow the style of this image: palette, medium, lighting, mood."
    <inline image 2>
    ...

The label lets the prompt and the model tell the pictures apart; the role's
sentence is the whole of what mediagen adds to the words the spec wrote. A
reference without a role is only labelled. Without references the contents
are the prompt alone, exactly as before (same request, same cost).

How many a model takes and what one costs (input tokens) are catalogue facts
(:mod:`mediagen.backends.gemini.catalogue`).
"""

from __future__ import annotations

from typing import Any

from mediagen.backends.base import GenerationRequest
from mediagen.errors import PermanentError

ROLE_TEXT = {
    "style": "follow the style of this image: palette, medium, lighting, mood.",
    "subject": "show this subject, keeping its identity and details.",
    "logo": "reproduce this logo faithfully; do not redraw or restyle it.",
}


def label(number: int, role: str) -> str:
    """The text part sent before reference ``number`` (1-based)."""
    if not role:
        return f"Reference {number}."
    return f"Reference {number} ({role}): {ROLE_TEXT.get(role, '')}".rstrip()


def contents(request: GenerationRequest) -> Any:
    """What ``generate_content`` is sent: the prompt alone, or prompt and references."""
    if not request.references:
        return request.prompt
    from google.genai import types

    parts: list[types.Part] = [types.Part.from_text(text=request.prompt)]
    for number, reference in enumerate(request.references, start=1):
        if not reference.data:  # the engine loads them; a job made by hand may not have
            raise PermanentError(f"reference {number} has no bytes loaded")
        parts.append(types.Part.from_text(text=label(number, reference.role)))
        parts.append(types.Part.from_bytes(data=reference.data, mime_type=reference.mime_type))
    return [types.Content(role="user", parts=parts)]


def label_characters(request: GenerationRequest) -> int:
    """Characters of the label parts (for the estimate's prompt tokens)."""
    return sum(len(label(n, r.role)) for n, r in enumerate(request.references, start=1))


__all__ = ["ROLE_TEXT", "contents", "label", "label_characters"]
