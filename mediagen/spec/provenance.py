"""The spec's ``provenance:`` option: what an image's C2PA Content Credentials may say.

Signing itself is the operator's (``MEDIAGEN_C2PA_*`` settings: a spec never holds a
key); a spec only chooses what goes into the signed manifest beyond the default
(source type, model, processing actions, generator). The prompt stays out unless
``include_prompt: true``: prompts can hold product plans or customer names, and a
published file's credentials are readable by anyone.
"""

from __future__ import annotations

from pydantic import Field

from mediagen.spec.base import SpecModel


class ProvenanceOptions(SpecModel):
    include_prompt: bool = Field(
        False,
        description="Put the prompt into each file's signed C2PA manifest (default: left out).",
    )


__all__ = ["ProvenanceOptions"]
