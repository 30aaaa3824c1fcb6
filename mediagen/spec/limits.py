"""Caps on what one spec may ask for, so a small file cannot ask for a huge run.

A 110 KB spec once expanded to ~133 GB of prompts: ``{variables}`` were
filled after the prompt length was checked, and matrix values had no length
limit. Every cap here is checked on what the spec *becomes* (after templates
are filled), is computed without building that result, and has a default and
a ``MEDIAGEN_*`` setting (:class:`SpecCaps`, part of :class:`mediagen.settings.Settings`):

==========================  ==================================  ===========
cap                         setting                             default
==========================  ==================================  ===========
spec file / inline size     ``MEDIAGEN_SPEC_MAX_BYTES``         1 MiB
YAML nesting depth          ``MEDIAGEN_SPEC_MAX_DEPTH``         32
expanded images per spec    ``MEDIAGEN_MAX_IMAGES``             10,000 (also the most)
prompt, after filling       ``MEDIAGEN_MAX_PROMPT_CHARS``       4,000
image id, after filling     ``MEDIAGEN_MAX_ID_CHARS``           128
one matrix value            ``MEDIAGEN_MAX_MATRIX_VALUE_CHARS`` 500
==========================  ==================================  ===========

``plan`` also warns (it does not refuse) above ``PLAN_WARN_*``: see
:mod:`mediagen.plan.size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mediagen.errors import ConfigurationError

SPEC_MAX_BYTES = 1024 * 1024
SPEC_MAX_DEPTH = 32  # a real spec nests 6 deep (images → matrix → values); PyYAML recurses
MAX_IMAGES = 10_000
MAX_PROMPT_CHARS = 4000
MAX_ID_CHARS = 128  # ids are slugs of at most 128 characters (spec_errors.SLUG_RE)
MAX_MATRIX_VALUE_CHARS = 500
MAX_ALT_TEXT_CHARS = 1000  # the alt_text field's own limit, also after filling
PLAN_WARN_DISK_GB = 10.0
PLAN_WARN_CPU_HOURS = 1.0
PLAN_WARN_FILES = 50_000


@dataclass(frozen=True)
class Limits:
    """The caps in force; ``Limits()`` holds the defaults."""

    spec_max_bytes: int = SPEC_MAX_BYTES
    spec_max_depth: int = SPEC_MAX_DEPTH
    max_images: int = MAX_IMAGES
    max_prompt_chars: int = MAX_PROMPT_CHARS
    max_id_chars: int = MAX_ID_CHARS
    max_matrix_value_chars: int = MAX_MATRIX_VALUE_CHARS

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})


class SpecCaps(BaseSettings):
    """The caps as ``MEDIAGEN_*`` variables set them. The spec layer reads its own caps
    (it sits below :mod:`mediagen.settings`); :class:`mediagen.settings.Settings`
    derives from this class, so each variable is defined once."""

    model_config = SettingsConfigDict(env_prefix="MEDIAGEN_", env_file=".env", extra="ignore")

    spec_max_bytes: int = Field(
        SPEC_MAX_BYTES, ge=1, description="Largest spec file (or inline spec), in bytes."
    )
    spec_max_depth: int = Field(
        SPEC_MAX_DEPTH, ge=4, le=200, description="Deepest nesting of a spec's YAML."
    )
    max_images: int = Field(
        MAX_IMAGES, ge=1, le=MAX_IMAGES,
        description="Most images one spec may expand to, whatever its max_images says "
        "(a worker may lower the built-in 10,000, not raise it).",
    )  # fmt: skip
    max_prompt_chars: int = Field(
        MAX_PROMPT_CHARS, ge=1, le=100_000,
        description="Longest prompt, counted after {variables} are filled.",
    )  # fmt: skip
    max_id_chars: int = Field(
        MAX_ID_CHARS, ge=1, le=MAX_ID_CHARS,
        description="Longest image id, counted after {variables} are filled.",
    )  # fmt: skip
    max_matrix_value_chars: int = Field(
        MAX_MATRIX_VALUE_CHARS, ge=1, le=100_000,
        description="Longest value of a template matrix.",
    )  # fmt: skip


def current() -> Limits:
    """The caps in force in this process (raises ConfigurationError for a bad setting)."""
    try:
        return Limits.from_settings(SpecCaps())
    except ValidationError as exc:
        from mediagen.spec.diagnostics import error_message

        parts = [f"MEDIAGEN_{str(e['loc'][0]).upper()}: {error_message(e)}" for e in exc.errors()]
        raise ConfigurationError("bad setting: " + "; ".join(parts)) from None


def is_http_url(value: str) -> bool:
    """``http://host...`` or ``https://host...``: nothing a browser would run or open locally."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)
