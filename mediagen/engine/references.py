"""The bytes of an image's reference images, read just before its backend call.

A planned job carries each reference's hash, role and location, not its bytes
(jobs are small and picklable; a cached original needs no reference at all).
On a cache miss, :func:`with_reference_bytes` reads them (a file, or an object
in the spec's bucket) and checks each against the hash the plan put in
``gen_key``: a picture changed between planning and generating would
otherwise be stored under a key that says it was made from the old one, so
the image fails, and the next run plans it again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from mediagen.backends.base import GenerationRequest
from mediagen.errors import PermanentError
from mediagen.plan.references import ReferenceProblem, forget_file, read_file
from mediagen.storage.bucket import Bucket


def with_reference_bytes(request: GenerationRequest, bucket: Bucket) -> GenerationRequest:
    """``request`` with the bytes of its references loaded (itself when it has none)."""
    if not request.references:
        return request
    loaded = []
    for number, reference in enumerate(request.references, start=1):
        kind, _, where = reference.source.partition(":")
        try:
            data = read_file(where) if kind == "file" else bucket.get(where)
        except (ReferenceProblem, FileNotFoundError) as exc:
            raise PermanentError(f"reference {number} ({where}) is gone: {exc}") from None
        if hashlib.sha256(data).hexdigest() != reference.sha256:
            if kind == "file":
                forget_file(where)  # the next plan in this process reads it anew
            raise PermanentError(
                f"reference {number} ({where}) changed after the plan was made; run again"
            )
        loaded.append(replace(reference, data=data))
    return replace(request, references=tuple(loaded))


__all__ = ["with_reference_bytes"]
