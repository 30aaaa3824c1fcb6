"""Read and check a file's C2PA Content Credentials (``mediagen verify``, tests).

c2pa-rs validates the whole manifest store: the claim signature, the certificate
chain's shape, and the hard binding (the hash of the file's bytes outside the
manifest). Its verdict is one of ``Invalid``, ``Valid`` (signed and intact, by a
certificate this reader does not trust) and ``Trusted`` (the chain ends in a given
trust anchor). A self-signed chain gives ``Valid``: the file is intact and says who
signed it, but nothing vouches for that signer. Reading makes no network call
(no remote manifests, no OCSP).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from mediagen.imaging.credentials import IPTC_SOURCE_TYPES

UNTRUSTED = "signingCredential.untrusted"  # not a defect of the file: reported as `trusted`


@dataclass(frozen=True)
class Verdict:
    """What a file's credentials say, and whether they hold."""

    state: str  # "trusted" | "valid" | "invalid" | "unsigned"
    signer: str | None = None  # the signing certificate's common name (else its issuer)
    issuer: str | None = None
    alg: str | None = None
    claim_generator: str | None = None
    actions: tuple[str, ...] = ()
    source_type: str | None = None  # IPTC code, from this manifest or its parents'
    software_agent: str | None = None  # the model, as the created action names it
    parent: bool = False  # an ingredient with its own manifest (e.g. the model's)
    failures: tuple[str, ...] = field(default=())  # c2pa validation codes

    @property
    def valid(self) -> bool:
        return self.state in ("trusted", "valid")


def sniff_mime(data: bytes) -> str | None:
    """The image type from the first bytes (PNG, JPEG, WebP, AVIF), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"mif1"):
        return "image/avif"
    return None


def verify(
    data: bytes, mime_type: str | None = None, trust_anchors: bytes | None = None
) -> Verdict:
    """Read and validate the credentials of ``data`` (any error: ``invalid``, with why)."""
    import c2pa

    mime = mime_type or sniff_mime(data)
    if mime is None:
        return Verdict("invalid", failures=("not a PNG, JPEG, WebP or AVIF file",))
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, _context(trust_anchors))
    except c2pa.C2paError as exc:
        return Verdict("invalid", failures=(str(exc)[:200],))
    if reader is None:
        return Verdict("unsigned")
    with reader:
        state = (reader.get_validation_state() or "Invalid").lower()
        results = reader.get_validation_results() or {}
        store = json.loads(reader.json())
    return _verdict(state, results, store)


def _verdict(state: str, results: dict[str, Any], store: dict[str, Any]) -> Verdict:
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest") or "") or {}
    failures = [
        f.get("code", "?")
        for f in (results.get("activeManifest") or {}).get("failure", [])
        if f.get("code") != UNTRUSTED
    ]
    for ingredient in results.get("ingredientDeltas") or []:
        failures += [
            f.get("code", "?")
            for f in (ingredient.get("validationDeltas") or {}).get("failure", [])
            if f.get("code") != UNTRUSTED
        ]
    if state not in ("trusted", "valid") or failures:
        state = "invalid"
    info = active.get("signature_info") or {}
    generator = (active.get("claim_generator_info") or [{}])[0]
    actions = _actions(active)
    source, agent = _source(active, manifests)
    return Verdict(
        state=state,
        signer=info.get("common_name") or info.get("issuer"),
        issuer=info.get("issuer"),
        alg=info.get("alg"),
        claim_generator=" ".join(
            str(generator.get(k)) for k in ("name", "version") if k in generator
        )
        or None,
        actions=tuple(a.get("action", "?") for a in actions),
        source_type=source,
        software_agent=agent,
        parent=any(
            i.get("relationship") == "parentOf" and i.get("active_manifest")
            for i in active.get("ingredients") or []
        ),
        failures=tuple(dict.fromkeys(failures)),
    )


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            out += (assertion.get("data") or {}).get("actions") or []
    return out


def _source(
    manifest: dict[str, Any], manifests: dict[str, Any], depth: int = 0
) -> tuple[str | None, str | None]:
    """The digital source type (and model) of the created action, following parents."""
    for action in _actions(manifest):
        kind = action.get("digitalSourceType")
        if kind:
            agent = action.get("softwareAgent")
            name = agent.get("name") if isinstance(agent, dict) else agent
            return str(kind).removeprefix(IPTC_SOURCE_TYPES), name
    if depth < 8:
        for ingredient in manifest.get("ingredients") or []:
            parent = manifests.get(ingredient.get("active_manifest") or "")
            if ingredient.get("relationship") == "parentOf" and parent:
                return _source(parent, manifests, depth + 1)
    return None, None


def _context(trust_anchors: bytes | None) -> Any:
    import c2pa

    config: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        config["trust"] = {"trust_anchors": trust_anchors.decode("ascii")}
    return c2pa.Context(settings=c2pa.Settings.from_dict(config))


__all__ = ["Verdict", "sniff_mime", "verify"]
