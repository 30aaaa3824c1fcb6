"""Read a ``generateContent`` answer: the image, or why there is none.

The backend asks the SDK for the raw answer (``should_return_http_response``)
and reads the documented JSON here, because the SDK's typed response (3.x)
drops ``finishMessage`` for the Gemini API and warns on finish reasons it does
not know yet. Unknown fields and reasons are simply carried through.

- ``promptFeedback.blockReason`` → :class:`BlockedError` (reason + message);
- an image part (``inlineData`` with an ``image/*`` type), marked ``thought``
  or not, with or without text parts before it → the image;
- no image and a refusal finish reason (IMAGE_SAFETY, PROHIBITED_CONTENT,
  NO_IMAGE, IMAGE_OTHER, ...) → :class:`BlockedError` with the finishMessage;
- no image otherwise (text only, MAX_TOKENS, an unknown reason) →
  :class:`PermanentError` saying what came back.

Text answers (alt text, :func:`parse_text`) are read the same way: a block
reason or a refusal finish reason is a :class:`BlockedError`; otherwise the
non-thought text parts, joined (possibly empty: the caller decides).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from mediagen.errors import BlockedError, PermanentError

BLOCK_REASONS = frozenset({
    "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE",
})  # fmt: skip


@dataclass(frozen=True)
class Answer:
    data: bytes
    mime_type: str
    usage: dict[str, int]
    model_version: str
    service_tier: str = ""  # usageMetadata.serviceTier: how it was served (e.g. "flex")


def parse_answer(body: str | bytes | None, model: str) -> Answer:
    """The image of a 200 answer, or the BlockedError/PermanentError it amounts to."""
    answer = _load(body, model)
    candidate = _first_candidate(answer, model)
    parts = [_dict(p) for p in _dict(candidate.get("content")).get("parts") or []]
    images = [p for p in parts if _image_blob(p) is not None]
    if images:
        # Gemini 3 may send interim "thought" images first: take the last final one,
        # or the last image at all when every one is marked thought.
        final = [p for p in images if not p.get("thought")] or images
        blob = _image_blob(final[-1]) or {}
        try:
            data = base64.b64decode(blob.get("data", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PermanentError(f"Gemini {model} sent image data that is not base64") from exc
        return Answer(
            data=data,
            mime_type=str(blob.get("mimeType") or "image/png"),
            usage=usage_of(answer.get("usageMetadata")),
            model_version=str(answer.get("modelVersion") or ""),
            service_tier=str(_dict(answer.get("usageMetadata")).get("serviceTier") or "").lower(),
        )
    reason = str(candidate.get("finishReason") or "")
    message = str(candidate.get("finishMessage") or "")
    if reason in BLOCK_REASONS:
        raise BlockedError(reason, message)
    text = " ".join(str(p["text"]) for p in parts if p.get("text") and not p.get("thought"))
    why = f"finishReason {reason or 'none'}" + (f": {message}" if message else "")
    if text.strip():
        raise PermanentError(
            f"Gemini {model} answered with text and no image ({why}): {text.strip()[:200]!r}"
        )
    raise PermanentError(f"Gemini {model} answered without an image ({why})")


def _first_candidate(answer: dict[str, Any], model: str) -> dict[str, Any]:
    """The answer's first candidate, after a prompt-level block has been raised."""
    _raise_if_prompt_blocked(answer)
    candidates = answer.get("candidates") or []
    candidate = _dict(candidates[0]) if isinstance(candidates, list) and candidates else None
    if candidate is None:
        raise PermanentError(f"Gemini {model} answered with no candidate and no block reason")
    return candidate


@dataclass(frozen=True)
class TextAnswer:
    text: str
    usage: dict[str, int]
    model_version: str


def parse_text(body: str | bytes | None, model: str) -> TextAnswer:
    """The text of a 200 answer to a text request, or the BlockedError it amounts to."""
    answer = _load(body, model)
    candidate = _first_candidate(answer, model)
    reason = str(candidate.get("finishReason") or "")
    if reason in BLOCK_REASONS:  # never publish the half-written text of a refusal
        raise BlockedError(reason, str(candidate.get("finishMessage") or ""))
    parts = [_dict(p) for p in _dict(candidate.get("content")).get("parts") or []]
    text = " ".join(str(p["text"]) for p in parts if p.get("text") and not p.get("thought"))
    return TextAnswer(
        text=text.strip(),
        usage=usage_of(answer.get("usageMetadata")),
        model_version=str(answer.get("modelVersion") or ""),
    )


def _load(body: str | bytes | None, model: str) -> dict[str, Any]:
    try:
        answer = json.loads(body or "{}")
    except ValueError as exc:
        raise PermanentError(f"Gemini {model} answered with invalid JSON") from exc
    if not isinstance(answer, dict):
        raise PermanentError(f"Gemini {model} answered with JSON that is not an object")
    return answer


def _raise_if_prompt_blocked(answer: dict[str, Any]) -> None:
    feedback = _dict(answer.get("promptFeedback"))
    if feedback.get("blockReason"):
        message = str(feedback.get("blockReasonMessage") or "")
        raise BlockedError(str(feedback["blockReason"]), message)


def usage_of(metadata: Any) -> dict[str, int]:
    """Token counts from ``usageMetadata``: prompt, candidates, image, thoughts, total."""
    meta = _dict(metadata)
    image = sum(
        _int(d.get("tokenCount"))
        for d in (_dict(x) for x in meta.get("candidatesTokensDetails") or [])
        if d.get("modality") == "IMAGE"
    )
    usage = {
        "prompt_tokens": _int(meta.get("promptTokenCount")),
        "candidates_tokens": _int(meta.get("candidatesTokenCount")),
        "image_tokens": image,
        "thoughts_tokens": _int(meta.get("thoughtsTokenCount")),
        "total_tokens": _int(meta.get("totalTokenCount")),
    }
    return {k: v for k, v in usage.items() if v}


def _image_blob(part: dict[str, Any]) -> dict[str, Any] | None:
    blob = _dict(part.get("inlineData"))
    if blob.get("data") and str(blob.get("mimeType") or "image/").startswith("image/"):
        return blob
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# More tokens than any answer could hold: a bigger count is a broken answer, not a bill.
MAX_TOKENS = 10**9


def _int(value: Any) -> int:
    """A token count: a whole number in 0..MAX_TOKENS, else 0 (NaN, Infinity, text, bools)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(number) or not 0 <= number <= MAX_TOKENS:
        return 0  # Infinity made int() raise OverflowError, and a valid image was lost
    return int(number)
