"""Reading requests and writing answers in the Gemini REST format, for the local server.

Token counts follow the model catalogue (:mod:`mediagen.backends.gemini.catalogue`):
the output image tokens of the requested size and, like a real model, thinking
that varies from answer to answer around the model's typical count (from 0.6×
to 1.4×, fixed per prompt; ``thoughtsTokenCount``, billed as text output).
Prompts are counted the way a tokenizer does, by words (4 tokens per 3), not
the 4 characters a token that estimates assume; an input image is 258 tokens.
What the server asks of a request follows the catalogue too: the sizes and
aspect ratios a model takes, and whether it takes ``imageSize`` at all
(sending it to a fixed-size model is a 400, as on the real API).
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

from mediagen.backends.gemini import catalogue

INPUT_IMAGE_TOKENS = 258  # what one small input image counts as in a text prompt (alt text)
FALLBACK_IMAGE_TOKENS = {"512": 747, "1K": 1290, "2K": 1290, "4K": 1290}  # models not catalogued


def prompt_of(body: dict[str, Any]) -> str:
    texts = [
        part.get("text", "")
        for content in body.get("contents", [])
        if isinstance(content, dict)
        for part in content.get("parts", [])
        if isinstance(part, dict)
    ]
    return "\n".join(t for t in texts if t)


def image_config(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("generationConfig", {}).get("imageConfig", {}) or {}


def is_text_request(model: str, body: dict[str, Any]) -> bool:
    """Text is asked for: responseModalities says only TEXT, or the model is no image model."""
    modalities = body.get("generationConfig", {}).get("responseModalities") or []
    if modalities:
        return [str(m).upper() for m in modalities] == ["TEXT"]
    info = catalogue.lookup(model)
    if info is not None:
        return info.kind == "text"
    return "image" not in model.lower()


def service_tier(body: dict[str, Any]) -> str:
    """The tier a request asked for (``serviceTier``, top level of the body), lower case;
    "" when it names none (the standard tier)."""
    return str(body.get("serviceTier") or "").lower()


def check_image_config(model: str, body: dict[str, Any]) -> str | None:
    """Why the real API would answer 400 to this image request, or None."""
    info = catalogue.lookup(model)
    if info is None:
        return None
    if service_tier(body) == "flex" and not info.flex:
        return f"service tier 'flex' is not supported by models/{model}"
    config = image_config(body)
    size = config.get("imageSize")
    if size is not None and not info.image_size_param:
        return f"imageSize is not supported by models/{model}"
    if size is not None and size not in info.sizes:
        return f"imageSize {size!r} is not supported by models/{model} ({', '.join(info.sizes)})"
    ratio = config.get("aspectRatio")
    if ratio is not None and info.aspect_ratios and ratio not in info.aspect_ratios:
        return f"aspectRatio {ratio!r} is not supported by models/{model}"
    return None


def image_tokens(model: str, size: str) -> int:
    info = catalogue.lookup(model)
    table = info.image_tokens if info is not None and info.image_tokens else FALLBACK_IMAGE_TOKENS
    return table.get(size) or table.get("1K") or max(table.values())


def usage(
    model: str,
    prompt: str,
    body: dict[str, Any],
    *,
    image: bool,
    text: str | None = None,
    thinking: bool = True,
) -> dict[str, Any]:
    """``usageMetadata`` of an answer: prompt, image or text output, and thinking."""
    text_tokens = prompt_tokens(prompt)  # the prompt's text
    details = [{"modality": "TEXT", "tokenCount": text_tokens}]
    images = len(inline_parts(body))
    # Reference images of an image request count as the catalogue says (Gemini 3's
    # default "high" media resolution); the picture of an alt-text request, as a small one.
    each = (
        INPUT_IMAGE_TOKENS if is_text_request(model, body) else catalogue.input_image_tokens(model)
    )
    if images:
        details.append({"modality": "IMAGE", "tokenCount": each * images})
    asked = text_tokens + each * images
    meta: dict[str, Any] = {
        "promptTokenCount": asked,
        "promptTokensDetails": details,
        "totalTokenCount": asked,
    }
    if text is not None:
        tokens = max(1, len(text) // 4)
        meta |= {
            "candidatesTokenCount": tokens,
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}],
            "totalTokenCount": asked + tokens,
        }
    if image:
        tokens = image_tokens(model, image_config(body).get("imageSize") or "1K")
        meta |= {
            "candidatesTokenCount": tokens,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": tokens}],
            "totalTokenCount": asked + tokens,
        }
    thoughts = thinking_tokens(model, prompt) if thinking else 0
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
        meta["totalTokenCount"] += thoughts
    if service_tier(body):  # how it was served: the Gemini API reports it in usageMetadata
        meta["serviceTier"] = service_tier(body)
    return meta


def prompt_tokens(prompt: str) -> int:
    """Tokens of a text prompt: 4 per 3 words (a tokenizer's count, not len / 4)."""
    return max(1, len(prompt.split()) * 4 // 3)


def thinking_tokens(model: str, prompt: str) -> int:
    """The thinking of one answer: the model's typical count × 0.6 to 1.4, fixed per prompt."""
    info = catalogue.lookup(model)
    if info is None or not info.thinking_tokens:
        return 0
    spread = zlib.crc32(prompt.encode()) % 1001 / 1000  # 0..1, the same for the same prompt
    return round(info.thinking_tokens * (0.6 + 0.8 * spread))


def default_text_answer(prompt: str) -> str:
    """A deterministic alt text naming the purpose an alt-text prompt states.

    mediagen's prompt says "It is used as: {use}; the image was made for:
    {subject}. ..."; the answer is "Picture for {use}: {subject}".
    """
    found = re.search(r"It is used as: (.*?)\. Say what", prompt, re.S)
    if found is None:
        return "A picture described by the local Gemini test server"
    use, _, subject = found.group(1).partition("; the image was made for: ")
    subject = " ".join(subject.split())
    return f"Picture for {use}: {subject}" if subject else f"Picture for {use}"


def inline_parts(body: dict[str, Any]) -> list[tuple[str, bytes]]:
    found = []
    for content in body.get("contents", []):
        for part in content.get("parts", []) if isinstance(content, dict) else []:
            blob = part.get("inlineData") if isinstance(part, dict) else None
            if isinstance(blob, dict):
                # The SDK sends URL-safe base64 and "mime_type"; the API takes either form.
                encoded = str(blob.get("data", "")).replace("-", "+").replace("_", "/")
                try:
                    data = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
                except ValueError:
                    data = b""
                mime = blob.get("mimeType") or blob.get("mime_type") or ""
                found.append((str(mime), data))
    return found


def candidate(parts: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": meta,
        "modelVersion": "fake",
    }


def query_key(path: str) -> str | None:
    found = re.search(r"[?&]key=([^&]+)", path)
    return found.group(1) if found else None
