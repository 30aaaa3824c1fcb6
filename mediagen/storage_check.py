"""``mediagen validate --check-storage``: can this machine publish there? No image written.

Checks, in order: the bucket is reachable with these credentials; a write is
permitted (a tiny private probe object under the prefix, read back, then
deleted); the store honours conditional writes (what keeps concurrent runs
from losing manifest entries); the manifest, if any, is readable.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from mediagen.errors import StorageError
from mediagen.manifest import Manifest, manifest_key
from mediagen.storage import Bucket
from mediagen.storage_errors import ConditionsUnsupported, PreconditionFailed

PROBE_NAME = ".mediagen-probe-"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_storage(bucket: Bucket, prefix: str) -> list[Check]:
    """Every check's outcome; raises (a ``StorageError``) when the bucket is unusable."""
    checks = []
    bucket.check_bucket()
    checks.append(Check("bucket reachable", True, bucket.config.label))

    name = f"{PROBE_NAME}{uuid.uuid4().hex}"
    probe = f"{prefix}/{name}" if prefix else name
    payload = b"mediagen storage check\n"
    bucket.put(probe, payload, content_type="text/plain", public=False, cache_control="no-store")
    try:
        if bucket.get(probe) != payload:
            raise StorageError(f"probe {probe!r} read back different bytes")
        checks.append(Check("write permitted", True, f"wrote, read back and deleted {probe}"))
        checks.append(_conditional_writes(bucket, probe, payload))
    finally:
        bucket.delete(probe)
    if bucket.exists(probe):
        raise StorageError(f"probe {probe!r} is still there after delete: delete not permitted?")
    checks.append(_manifest(bucket, prefix))
    return checks


def _conditional_writes(bucket: Bucket, probe: str, payload: bytes) -> Check:
    name = "conditional writes"
    try:
        bucket.put(probe, payload, content_type="text/plain", public=False, if_none_match=True)
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


def _manifest(bucket: Bucket, prefix: str) -> Check:
    key = manifest_key(prefix)
    try:
        Manifest.model_validate(json.loads(bucket.get(key)))
    except FileNotFoundError:
        return Check("manifest", True, f"none yet at {key} (the first run writes it)")
    except (ValueError, ValidationError):
        return Check("manifest", False, f"{key} is unreadable; the next run replaces it")
    return Check("manifest", True, f"{key} readable")
