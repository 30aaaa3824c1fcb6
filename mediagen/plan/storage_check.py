"""``mediagen validate --check-storage``: can this machine publish there? No image written.

Checks, in order: the bucket is reachable with these credentials; the prefix
is this spec's (or shared, see :mod:`mediagen.manifest.prefix_owner`); a write is
permitted (a tiny probe object under the prefix, read back, then deleted); the
store honours conditional writes (what keeps concurrent runs from losing
manifest entries); the manifest, if any, is readable.

The probe is written exactly as the run will write its outputs: ``public-read``
when the spec is public, so a bucket with ACLs disabled (or a policy that
forbids public ACLs) fails here, not halfway through a run. If the probe cannot
be deleted afterwards, the check says which key it left behind (and that
``delete`` / ``--prune`` will fail with these credentials) instead of failing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from mediagen.errors import ConditionsUnsupported, PreconditionFailed, StorageError
from mediagen.manifest.model import Manifest, manifest_key
from mediagen.manifest.prefix_owner import Claim, open_prefix
from mediagen.storage.bucket import Bucket

PROBE_NAME = ".mediagen-probe-"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_storage(bucket: Bucket, prefix: str, claim: Claim | None = None) -> list[Check]:
    """Every check's outcome; raises (a ``StorageError``) when the bucket is unusable.

    ``claim``: the spec's claim on the prefix; its own manifest is checked, and whether
    another spec owns the prefix (a ``PrefixConflict``, as ``run`` would raise).
    """
    checks = []
    bucket.check_bucket()
    checks.append(Check("bucket reachable", True, bucket.config.label))
    if claim is not None:
        state = open_prefix(bucket, claim)  # before any write: PrefixConflict, as a run
        sharing = f"shared with {', '.join(sorted(state.others))}" if state.others else ""
        detail = sharing or ("shared, no other spec yet" if claim.shared else "this spec's")
        checks.append(Check("prefix owner", True, f"{prefix or '(bucket root)'}: {detail}"))

    name = f"{PROBE_NAME}{uuid.uuid4().hex}"
    probe = f"{prefix}/{name}" if prefix else name
    payload = b"mediagen storage check\n"
    public = bucket.config.public
    # The run's own ACL: a public spec's probe is public-read, so ACL trouble shows here.
    bucket.put(probe, payload, content_type="text/plain", public=public, cache_control="no-store")
    acl = "public-read" if public else "private"
    try:
        if bucket.get(probe) != payload:
            raise StorageError(f"probe {probe!r} read back different bytes")
        checks.append(Check("write permitted", True, f"wrote {probe} ({acl}) and read it back"))
        checks.append(_conditional_writes(bucket, probe, payload, public))
    finally:
        cleanup = _remove_probe(bucket, probe)
    checks.append(cleanup)
    checks.append(_manifest(bucket, prefix, claim.own if claim else None))
    return checks


def _remove_probe(bucket: Bucket, probe: str) -> Check:
    """Delete the probe; when that is refused, say exactly what was left, and where."""
    name = "probe removed"
    try:
        bucket.delete(probe)
        gone = not bucket.exists(probe)
        reason = "it is still there after the delete"
    except StorageError as exc:
        gone, reason = False, f"delete refused: {exc}"
    if gone:
        return Check(name, True, f"deleted {probe}")
    return Check(
        name,
        False,
        f"left {bucket.config.label}/{probe} behind ({reason}); delete it by hand. "
        "With these credentials `mediagen delete` and `run --prune` will fail too",
    )


def _conditional_writes(bucket: Bucket, probe: str, payload: bytes, public: bool) -> Check:
    name = "conditional writes"
    try:
        bucket.put(probe, payload, content_type="text/plain", public=public, if_none_match=True)
    except PreconditionFailed:
        return Check(name, True, "honoured: concurrent runs merge their manifest entries")
    except ConditionsUnsupported:
        pass
    return Check(
        name,
        False,
        "not honoured by this store: run one spec at a time (concurrent runs may lose "
        "manifest entries)",
    )


def _manifest(bucket: Bucket, prefix: str, spec: str | None = None) -> Check:
    key = manifest_key(prefix, spec)
    try:
        Manifest.model_validate(json.loads(bucket.get(key)))
    except FileNotFoundError:
        return Check("manifest", True, f"none yet at {key} (the first run writes it)")
    except (ValueError, ValidationError):
        return Check("manifest", False, f"{key} is unreadable; the next run replaces it")
    return Check("manifest", True, f"{key} readable")
