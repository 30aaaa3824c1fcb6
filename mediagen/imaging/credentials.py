"""C2PA Content Credentials on a published file: what made it, and what was done to it.

Every output (each format, each rendition) is signed before it is uploaded, with a
manifest that says:

- ``c2pa.created`` with the IPTC ``digitalSourceType``: ``trainedAlgorithmicMedia``
  for a generative model, ``algorithmicMedia`` for the offline renderer, and the model
  as the ``softwareAgent``;
- then what processing did: ``c2pa.cropped`` (the focal-point crop cut something off),
  ``c2pa.resized`` (the pixels were scaled) and ``c2pa.transcoded`` (re-encoded);
- the claim generator, ``mediagen`` and its version.

When the backend's original carries its own C2PA manifest (a model that signs what it
returns), that original becomes the **parent ingredient** and the first action is
``c2pa.opened`` on it instead of ``c2pa.created`` (the C2PA rule: a created asset
has no parent): the published file's chain reaches the model's own credential, which
states the source type. The prompt stays out unless the spec asks
(``provenance: {include_prompt: true}``); XMP is written as before, inside the
signed file.

Signing runs on bytes (the encoded file in, the signed file out) and needs
``c2pa-python`` only when a signer is configured (:mod:`mediagen.imaging.c2pa_signer`).
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mediagen._version import __version__
from mediagen.errors import ProcessingError
from mediagen.imaging.codec import ProcessedImage
from mediagen.redaction import redact

if TYPE_CHECKING:
    import c2pa

    from mediagen.imaging.c2pa_signer import SignerConfig

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
PARENT_ID = "original"  # the parent ingredient's label, referenced by c2pa.opened
_local = threading.local()


@dataclass(frozen=True)
class Credentials:
    """What one image's manifests say (per output, only the processing flags differ)."""

    digital_source_type: str  # the IPTC code: "trainedAlgorithmicMedia" | "algorithmicMedia"
    model: str
    backend: str
    image_id: str
    prompt: str | None = None  # only when the spec asks for it


@dataclass(frozen=True)
class Processing:
    """What processing did to one output (decides its actions)."""

    cropped: bool
    resized: bool
    transcoded: bool = True  # always re-encoded (format, quality or metadata changed)


@dataclass(frozen=True)
class Parent:
    """A backend's original that carries its own C2PA manifest."""

    data: bytes
    mime_type: str


def processing_of(
    source: tuple[int, int], box: tuple[float, float, float, float], out: tuple[int, int]
) -> Processing:
    """Cropped: the box is not the whole source; resized: the output is not the box's size."""
    left, top, right, bottom = box
    cropped = (round(left), round(top), round(right), round(bottom)) != (0, 0, *source)
    resized = (round(right - left), round(bottom - top)) != out
    return Processing(cropped=cropped, resized=resized)


def manifest_of(data: bytes, mime_type: str) -> bool:
    """Does ``data`` carry a C2PA manifest (valid or not)? False when c2pa is absent."""
    try:
        import c2pa
    except ImportError:
        return False
    try:
        reader = c2pa.Reader.try_create(mime_type, io.BytesIO(data), None, _context())
    except c2pa.C2paError:
        return False  # a manifest too broken to read cannot be a parent
    if reader is None:
        return False
    reader.close()
    return True


def parent_of(original: bytes, mime_type: str) -> Parent | None:
    """The original as a parent ingredient, if it carries its own manifest."""
    return Parent(original, mime_type) if manifest_of(original, mime_type) else None


def definition(
    credentials: Credentials, processing: Processing, content_type: str, parent: bool
) -> dict[str, Any]:
    """The manifest definition (c2pa-rs JSON) of one output."""
    first: dict[str, Any]
    if parent:
        first = {"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_ID]}}
    else:
        first = {
            "action": "c2pa.created",
            "digitalSourceType": IPTC_SOURCE_TYPES + credentials.digital_source_type,
            "softwareAgent": {"name": credentials.model},
        }
        if credentials.prompt is not None:
            first["description"] = credentials.prompt
    actions = [first]
    if processing.cropped:
        actions.append({"action": "c2pa.cropped"})
    if processing.resized:
        actions.append({"action": "c2pa.resized"})
    if processing.transcoded:
        actions.append({"action": "c2pa.transcoded"})
    return {
        "claim_generator_info": [{"name": "mediagen", "version": __version__}],
        "title": credentials.image_id or "image",
        "format": content_type,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def sign(
    image: ProcessedImage,
    credentials: Credentials,
    processing: Processing,
    signer: SignerConfig,
    parent: Parent | None = None,
) -> ProcessedImage:
    """``image`` with a signed C2PA manifest embedded (its sha256 updated)."""
    import c2pa

    manifest = definition(credentials, processing, image.content_type, parent is not None)
    out = io.BytesIO()
    try:
        with c2pa.Builder(manifest, _context()) as builder:
            if parent is not None:
                builder.add_ingredient(
                    {"title": "original", "relationship": "parentOf", "label": PARENT_ID},
                    parent.mime_type,
                    io.BytesIO(parent.data),
                )
            builder.sign(signer.signer(), image.content_type, io.BytesIO(image.data), out)
    except c2pa.C2paError as exc:
        # The library's text names a cause (an unsupported format, a TSA down), never a key.
        raise ProcessingError(
            f"C2PA signing of {image.format} failed: {redact(str(exc))[:200]}"
        ) from None
    data = out.getvalue()
    return replace(image, data=data, sha256=hashlib.sha256(data).hexdigest())


def _context() -> c2pa.Context:
    """This thread's c2pa context: no thumbnail in the manifest (the file is the picture,
    and a thumbnail would add ~30 KB and an encode per output), no network when reading."""
    made = getattr(_local, "context", None)
    if made is None:
        import c2pa

        settings = c2pa.Settings.from_dict(
            {
                "builder": {"thumbnail": {"enabled": False}},
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            }
        )
        made = _local.context = c2pa.Context(settings=settings)
    return made


__all__ = [
    "Credentials",
    "Parent",
    "Processing",
    "definition",
    "manifest_of",
    "parent_of",
    "processing_of",
    "sign",
]
