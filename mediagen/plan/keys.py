"""Every object key mediagen writes to a bucket, computed in one place.

A spec publishes under its *prefix* (``storage.prefix``, default the spec
name). Under it::

    {prefix}/{id}-{out8}.{ext}                 an output ('hashed' naming: immutable)
    {prefix}/{id}.{ext}                        an output ('stable' naming: overwritten)
    {prefix}/{id}-{W}w-{out8}.{ext}            a rendition (variants), likewise
    {prefix}/_originals/{gen_key}.{ext}        the backend's original, private
    {prefix}/_originals/{gen_key}.json         its sidecar (what was asked, what it cost)
    {prefix}/_originals/{gen_key}.alt-{h16}.json  an alt-text answer for it (alt_text: auto)
    {prefix}/manifest.json                     the manifest (one spec owns the prefix)
    {prefix}/manifest.{spec}.json              a spec's manifest on a shared prefix
    {prefix}/index.html, index.{spec}.html     the gallery beside it
    {prefix}/_lease.json                       one run per spec (mediagen.storage.lease)
    {prefix}/_costs/{id}/{run}.{token}...json  the cost ledger (mediagen.manifest.costs)

The content hashes in these keys are caches in users' buckets: ``gen_key`` (what
the backend is asked) and ``out_key`` (how one output is made from it). They must
not change for the same inputs, or every image is paid for again; a test pins a
known value (tests/plan/test_keys.py). Bump ``PROCESSING_VERSION`` only when
processing really changes the bytes.

This module computes; it reads and writes nothing. Which keys an image *owns*
(what ``delete`` and ``prune`` remove) is :func:`owned_by_original` plus the
manifest's record (:func:`mediagen.manifest.commit.recorded_keys`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

# The lease is the storage layer's own object (it sits below this layer and must not
# import it): its key is defined there and listed here, so this module names every key.
from mediagen.storage.lease import LEASE_NAME, lease_key

if TYPE_CHECKING:
    from mediagen.spec.job import JobSpec

# Bump when processing changes output bytes for the same inputs: every out_key changes.
PROCESSING_VERSION = 1

ORIGINALS_DIR = "_originals"
LEDGER_DIR = "_costs"
MANIFEST_NAME = "manifest.json"
SHARED_MANIFEST_HEAD = "manifest."  # + {spec}.json: a spec's manifest on a shared prefix
SHARED_MANIFEST_TAIL = ".json"
GALLERY_NAME = "index.html"
ALT_TEXT_MARK = ".alt-"  # {original base}.alt-{hash16}.json
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


# -- content hashes ---------------------------------------------------------------------


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``: same value, same hash, on any machine."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def gen_key_for(backend: str, request: Any, variant: int = 0) -> str:
    """sha256 of everything the backend is asked (a ``GenerationRequest`` dataclass)."""
    params = asdict(request)
    params.pop("image_id")  # renaming an image must not cost a new generation
    params.pop("fallback_models")  # how to get it, not what is asked (like retries)
    params.pop("delivery", None)  # sync, batch or flex: the same image, at another price
    return canonical_hash({"backend": backend, "variant": variant, **params})


def out_key_for(gen_key: str, output: Any, extra: dict[str, Any] | None = None) -> str:
    """sha256 of the gen_key plus the processing of one output (an ``OutputSpec``).

    ``extra``: processing inputs beyond the OutputSpec (focal point, alt text), only
    when set, so outputs made before they existed keep their keys."""
    return canonical_hash(
        {"gen": gen_key, "v": PROCESSING_VERSION, **asdict(output), **(extra or {})}
    )


def facts_key_for(gen_key: str, **inputs: Any) -> str:
    """Changes when an image's facts (placeholders, colours, brand fit, snippets) must be
    redone; ``inputs`` are what they depend on besides the generation."""
    return canonical_hash({"gen": gen_key, **inputs})


# -- where things are under a prefix ----------------------------------------------------


def prefix_of(spec: JobSpec) -> str:
    """The spec's key prefix: ``storage.prefix``, else its name."""
    return spec.storage.prefix if spec.storage.prefix is not None else spec.name


def join(prefix: str, name: str) -> str:
    """``{prefix}/{name}``, or ``name`` at the bucket root (an empty prefix)."""
    return f"{prefix}/{name}" if prefix else name


def folder(prefix: str) -> str:
    """``'{prefix}/'``: what every key under the prefix starts with (``''`` at the root)."""
    return f"{prefix}/" if prefix else ""


def output_key(
    prefix: str, image_id: str, out_key: str, extension: str, *, naming: str, width: int | None
) -> str:
    """Where one output is published. ``width``: a rendition's width (``None``: a main
    output); ``naming``: 'hashed' (content-addressed, immutable, CDN-safe) or 'stable'
    (overwritten in place, short cache)."""
    tag = "" if width is None else f"-{width}w"
    if naming == "stable":
        return join(prefix, f"{image_id}{tag}.{extension}")
    return join(prefix, f"{image_id}{tag}-{out_key[:8]}.{extension}")


def original_base(prefix: str, gen_key: str) -> str:
    """``{prefix}/_originals/{gen_key}``: the original's key without its extension
    (``ImageJob.original_key``); its sidecar and alt-text answers sit beside it."""
    return join(prefix, f"{ORIGINALS_DIR}/{gen_key}")


def original_key(base: str, extension: str) -> str:
    """The stored original: ``{base}.{ext}`` (the extension of what the backend sent)."""
    return f"{base}.{extension}"


def base_of(stored_original: str) -> str:
    """The base of a stored original's key (``…/_originals/{gen}.png`` → ``…/{gen}``)."""
    head, _, name = stored_original.rpartition("/")
    stem = name.split(".", 1)[0]  # a gen_key is hex: the first dot starts the extension
    return f"{head}/{stem}" if head else stem


def sidecar_key(base: str) -> str:
    """The JSON sidecar of an original: ``{base}.json``."""
    return f"{base}.json"


def sidecar_of(stored_original: str) -> str:
    """The sidecar of a stored original (a key the manifest records, with its extension)."""
    return sidecar_key(base_of(stored_original))


def alt_text_key(base: str, identity: dict[str, Any]) -> str:
    """Where an ``alt_text: auto`` answer for the original at ``base`` is cached.

    ``identity``: what the answer depends on (generation, purpose, backend,
    describing model, version); one original may have several."""
    return f"{base}{ALT_TEXT_MARK}{canonical_hash(identity)[:16]}.json"


def is_alt_text_of(key: str, base: str) -> bool:
    """Is ``key`` an alt-text answer cached for the original at ``base``?"""
    head = f"{base}{ALT_TEXT_MARK}"
    return key.startswith(head) and key.endswith(".json") and "/" not in key[len(head) :]


def alt_text_keys_of(stored_original: str, listing: Iterable[str]) -> set[str]:
    """The alt-text answers cached for a stored original that ``listing`` holds."""
    base = base_of(stored_original)
    return {k for k in listing if is_alt_text_of(k, base)}


def owned_by_original(stored_original: str, listing: Iterable[str]) -> set[str]:
    """The keys that live and die with a stored original: itself, its sidecar, and the
    alt-text answers cached for it that ``listing`` (a bucket listing) holds."""
    owned = {stored_original, sidecar_of(stored_original)}
    return owned | alt_text_keys_of(stored_original, listing)


def originals_folder(prefix: str) -> str:
    """``{prefix}/_originals/``: list it once to find every original's companions."""
    return folder(prefix) + f"{ORIGINALS_DIR}/"


def manifest_key(prefix: str, spec: str | None = None) -> str:
    """The manifest; ``spec``: a spec sharing the prefix has its own, ``manifest.{spec}.json``."""
    name = f"{SHARED_MANIFEST_HEAD}{spec}{SHARED_MANIFEST_TAIL}" if spec else MANIFEST_NAME
    return join(prefix, name)


def shared_manifest_spec(prefix: str, key: str) -> str | None:
    """The spec whose shared-prefix manifest ``key`` is (``None``: not one)."""
    head = folder(prefix) + SHARED_MANIFEST_HEAD
    if not (key.startswith(head) and key.endswith(SHARED_MANIFEST_TAIL)):
        return None
    name = key[len(head) : -len(SHARED_MANIFEST_TAIL)]
    return name if name and "/" not in name else None


def gallery_key(prefix: str, spec: str | None = None) -> str:
    """The gallery page; ``spec``: a spec sharing the prefix has its own, ``index.{spec}.html``."""
    return join(prefix, f"index.{spec}.html" if spec else GALLERY_NAME)


def ledger_prefix(prefix: str) -> str:
    """``{prefix}/_costs/``: the cost ledger (one listing totals a spec)."""
    return folder(prefix) + f"{LEDGER_DIR}/"


def safe_segment(text: str) -> str:
    """A key segment from any text (image ids, run ids): [A-Za-z0-9_-], at most 100."""
    return _UNSAFE.sub("_", text)[:100] or "_"


def ledger_folder(prefix: str, image_id: str) -> str:
    """``{prefix}/_costs/{image}/``: the ledger records of one image."""
    return f"{ledger_prefix(prefix)}{safe_segment(image_id)}/"


def ledger_marker_key(prefix: str, image_id: str, run_id: str, token: str, what: str) -> str:
    """The in-flight marker of one bracketed backend call."""
    run, kind = safe_segment(run_id), safe_segment(what)
    return f"{ledger_folder(prefix, image_id)}{run}.{token}.{kind}.inflight.json"


def ledger_record_key(
    prefix: str, image_id: str, run_id: str, token: str, number: int, what: str,
    cost_usd: float | None, state: str,
) -> str:  # fmt: skip
    """One paid (or unknown) answer; its cost, in nano-dollars, is part of the key so one
    listing totals a spec without reading an object."""
    nano = "" if cost_usd is None else f".{round(cost_usd * 1e9)}"
    run, kind = safe_segment(run_id), safe_segment(what)
    return f"{ledger_folder(prefix, image_id)}{run}.{token}-{number}.{kind}{nano}.{state}.json"


def never_deleted(prefix: str, spec: str | None = None) -> set[str]:
    """Keys that prune and delete never remove, whatever a manifest says: the
    manifests, the gallery pages and the lease."""
    keys = {manifest_key(prefix), gallery_key(prefix), lease_key(prefix)}
    if spec:
        keys |= {manifest_key(prefix, spec), gallery_key(prefix, spec)}
    return keys


__all__ = [
    "LEASE_NAME",
    "PROCESSING_VERSION",
    "alt_text_key",
    "alt_text_keys_of",
    "base_of",
    "canonical_hash",
    "facts_key_for",
    "folder",
    "gallery_key",
    "gen_key_for",
    "is_alt_text_of",
    "join",
    "lease_key",
    "ledger_folder",
    "ledger_marker_key",
    "ledger_prefix",
    "ledger_record_key",
    "manifest_key",
    "never_deleted",
    "original_base",
    "original_key",
    "originals_folder",
    "out_key_for",
    "output_key",
    "owned_by_original",
    "prefix_of",
    "safe_segment",
    "shared_manifest_spec",
    "sidecar_key",
    "sidecar_of",
]
