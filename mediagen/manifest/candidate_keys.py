"""Which bucket keys an image's candidates own, and which of them prune may remove.

An entry with candidates (:mod:`mediagen.spec.selection`) records every candidate's
original and the pick record. They all belong to the image: ``delete`` removes them
with it. Once a choice is recorded (``pick.chosen``), the unchosen candidates'
originals and sidecars are *released*: no longer in use, so they become
``orphaned_keys`` and ``prune`` removes them, unless the spec keeps them
(``keep_candidates``, recorded as ``pick.keep_candidates``). The pick record
stays: it lets a re-run publish the chosen candidate without making the others again.
"""

from __future__ import annotations

from mediagen.manifest.model import ImageEntry
from mediagen.plan.keys import sidecar_of


def candidate_keys(entry: ImageEntry) -> set[str]:
    """Every candidate's original and sidecar, and the pick record, that ``entry`` records."""
    keys: set[str] = set()
    for candidate in entry.candidates:
        if candidate.original_key:
            keys |= {candidate.original_key, sidecar_of(candidate.original_key)}
    if entry.pick is not None and entry.pick.record_key:
        keys.add(entry.pick.record_key)
    return keys


def released_keys(entry: ImageEntry) -> set[str]:
    """The unchosen candidates' originals and sidecars, once a choice is recorded and the
    spec does not keep them (never the chosen original, which the entry uses)."""
    pick = entry.pick
    if pick is None or pick.chosen is None or pick.keep_candidates:
        return set()
    keys: set[str] = set()
    for candidate in entry.candidates:
        if candidate.original_key and candidate.index != pick.chosen:
            keys |= {candidate.original_key, sidecar_of(candidate.original_key)}
    if entry.original_key:  # the published original, whatever index says
        keys -= {entry.original_key, sidecar_of(entry.original_key)}
    return keys


__all__ = ["candidate_keys", "released_keys"]
