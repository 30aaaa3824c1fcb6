"""Prompt composition: subject + theme + brand colours + finance context + constraints.

The result is deterministic (same inputs, same text, on any machine): it is
part of the content-addressed cache key, and it is recorded in the manifest so
anyone can see exactly what the backend was asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mediagen.spec.vocabulary import THEMES, Theme

FINANCE_CONTEXT = (
    "For a personal-finance app: trustworthy, optimistic and calm, "
    "suitable for money goals, saving and investing."
)

# Always asked for: image models otherwise love to paint illegible text and logos.
BASE_CONSTRAINTS = ("no watermarks", "no logos of real brands")


@dataclass(frozen=True)
class PromptParts:
    subject: str
    theme: Theme
    brand_colors: Sequence[tuple[str, str | None]] = ()  # (hex, optional name)
    finance_context: bool = True
    constraints: Sequence[str] = ()


def compose_prompt(parts: PromptParts) -> str:
    """The final prompt sent to the backend, one sentence per concern."""
    sentences = [_sentence(parts.subject)]
    sentences.append(f"Style: {THEMES[parts.theme].description}.")
    if parts.brand_colors:
        named = ", ".join(
            f"{name} ({hex_.upper()})" if name else hex_.upper()
            for hex_, name in parts.brand_colors
        )
        sentences.append(f"Use the brand colour palette: {named}.")
    if parts.finance_context:
        sentences.append(FINANCE_CONTEXT)
    constraints = _unique([*parts.constraints, *BASE_CONSTRAINTS])
    sentences.append("Constraints: " + "; ".join(constraints) + ".")
    return " ".join(sentences)


def _sentence(text: str) -> str:
    """Whitespace collapsed, ending with exactly one full stop (or its own '!' / '?')."""
    text = " ".join(text.split()).rstrip(".").rstrip()
    return text if text.endswith(("!", "?")) else text + "."


def _unique(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        text = " ".join(item.split()).rstrip(".")
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out
