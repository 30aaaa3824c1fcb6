"""Alt text: written by a person in the spec, or ``auto`` (asked of the backend).

- Text a person wrote is published exactly as written: never clipped, never
  replaced by a generated one.
- ``auto`` calls :meth:`mediagen.backends.base.Backend.describe` once per
  (generation, purpose, describing model); the answer is cached in the bucket
  beside the original, so re-runs, new renditions and retries never ask again.
- An automatic text is one sentence about what the image is for, kept under
  :data:`MAX_AUTO_CHARS` characters (screen readers read long alt text badly).

The offline renderer paints abstract placeholder art, so its description says
so rather than pretend the picture shows its subject.
"""

from __future__ import annotations

import re

from mediagen.spec.vocabulary import SIZE_PRESETS

AUTO = "auto"
MAX_AUTO_CHARS = 124  # "under 125 characters"
DESCRIBE_VERSION = 1  # bump when the cached answers must be asked again


def is_auto(alt_text: str | None) -> bool:
    return alt_text is not None and alt_text.strip().lower() == AUTO


def purpose_for(subject: str, size_name: str, width: int, height: int) -> str:
    """What the image is for, in words a describing model can use."""
    named = {str(preset): what for preset, (_, _, what) in SIZE_PRESETS.items()}
    use = named.get(size_name) or f"{width}x{height} px image"
    what = " ".join(subject.split())
    what = what if len(what) <= 300 else what[:299] + "…"
    return f"{use}; the image was made for: {what}"


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, whitespace collapsed, without its full stop."""
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text).rstrip(".")


def clip(text: str, limit: int = MAX_AUTO_CHARS) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary with '…'."""
    text = " ".join(text.split()).strip().strip('"').strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def from_prompt(prompt: str, purpose: str = "") -> str:
    """A deterministic description from the final prompt's subject (its first sentence)."""
    subject = first_sentence(prompt)
    return clip(subject[:1].upper() + subject[1:])


def offline_description(prompt: str, theme: str) -> str:
    """What the offline renderer's picture is: abstract art in the theme's colours."""
    subject = first_sentence(prompt)
    return clip(f"Abstract {theme} placeholder art for: {subject[:1].lower() + subject[1:]}")


def describe_prompt(purpose: str) -> str:
    """The instruction a describing model gets (the Gemini backend can use it as is)."""
    return (
        "Write alt text for this image for a screen-reader user. "
        f"It is used as: {purpose}. "
        "Say what the image shows and conveys for that use in one plain sentence, "
        f"under {MAX_AUTO_CHARS + 1} characters. Do not list objects, do not start with "
        "'Image of' or 'Picture of', no quotes."
    )
