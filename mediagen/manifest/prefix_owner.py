"""Who may publish under a prefix: one spec, or several that say they share it.

The manifest is the cache index and the list of what prune may delete. If two
specs used one ``{prefix}/manifest.json``, each run of one would treat the
other's images as removed from its spec, and ``--prune`` would delete the other
spec's objects. So a prefix has an owner:

- **one owner** (the default): ``{prefix}/manifest.json`` names the spec that
  owns the prefix (``spec_name``). A run, plan, prune or delete of a spec with
  another name is refused (:class:`PrefixConflict`, exit 2, naming both).
- **shared** (``storage.shared_prefix: true`` in every spec on the prefix): each
  spec keeps its own manifest, ``{prefix}/manifest.{name}.json`` (and gallery
  ``index.{name}.html``). Prune and delete touch only keys of the spec's own
  manifest, and never a key another sharing spec still uses: content-addressed
  originals and outputs of identical images are one object for both. With
  ``naming: stable`` two specs publishing the same image id would overwrite each
  other's object: refused.

Switching a spec between the two modes moves its manifest: its next run reads
the old one as its previous manifest, writes the new one, then deletes the old
one (and its gallery page). Apps reading the old manifest URL must follow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mediagen.errors import ConfigurationError, StorageError
from mediagen.manifest.commit import keys_in_use
from mediagen.manifest.gallery import gallery_key
from mediagen.manifest.model import Manifest, manifest_key, read_manifest
from mediagen.plan.jobs import ImageJob, prefix_of
from mediagen.storage.bucket import Bucket

if TYPE_CHECKING:
    from mediagen.spec.models import JobSpec

SHARED_SUFFIX = ".json"
HOW_TO_SHARE = "set storage.shared_prefix: true in every spec that publishes there"


class PrefixConflict(ConfigurationError):
    """Another spec owns (or shares) the prefix this spec would publish under."""


@dataclass(frozen=True)
class Claim:
    """A spec's claim on a prefix: its name, and whether it shares the prefix."""

    prefix: str
    spec: str
    shared: bool

    @property
    def own(self) -> str | None:
        """The ``spec`` argument of ``manifest_key`` for this spec's own manifest."""
        return self.spec if self.shared else None

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.prefix, self.own)


def claim_of(spec: JobSpec) -> Claim:
    """The claim of a spec on its prefix."""
    return Claim(prefix_of(spec), spec.name, bool(spec.storage.shared_prefix))


@dataclass
class PrefixState:
    """What a claim found under its prefix."""

    claim: Claim
    previous: Manifest | None  # this spec's own manifest (or the one it is moving from)
    # This spec's manifest is in the other mode (one owner <-> shared): retire it after
    # the run; ``moved_own`` locates it as ``Claim.own`` would.
    moving: bool = False
    moved_own: str | None = None
    others: dict[str, Manifest] = field(default_factory=dict)  # sharing specs by name
    unreadable: list[str] = field(default_factory=list)  # sharing specs we cannot read

    def others_in_use(self) -> set[str]:
        """Keys another spec on the prefix still uses: never ours to delete or re-stamp."""
        return keys_in_use(e for m in self.others.values() for e in m.images.values())

    def check_can_delete(self) -> None:
        """Deleting needs every other spec's keys: refuse while one manifest is unreadable."""
        if self.unreadable:
            names = ", ".join(map(repr, self.unreadable))
            raise StorageError(
                f"the manifest of spec(s) {names} sharing prefix {self.claim.prefix!r} is "
                "unreadable: which objects they use is unknown, so nothing is deleted "
                "(their next run rewrites it)"
            )


def _sharers(bucket: Bucket, prefix: str) -> list[str]:
    """Names of the specs with their own manifest under ``prefix`` (shared mode)."""
    head = manifest_key(prefix, "x")[: -len(f"x{SHARED_SUFFIX}")]  # '{prefix}/manifest.'
    names = []
    for key in _keys_starting(bucket, head):
        name = key[len(head) : -len(SHARED_SUFFIX)]
        if key.endswith(SHARED_SUFFIX) and name and "/" not in name:
            names.append(name)
    return sorted(names)


def _keys_starting(bucket: Bucket, head: str) -> list[str]:
    """Keys starting with ``head`` in its folder only (one listing, filtered by the store)."""
    folder, _, start = head.rpartition("/")
    if bucket.local:  # one folder's entries, not a walk of the whole prefix
        root = Path(bucket.config.bucket, folder)
        names = sorted(p.name for p in root.glob(f"{start}*") if p.is_file())
        return [f"{folder}/{n}" if folder else n for n in names if ".tmp-" not in n]
    base = bucket.config.bucket.rstrip("/") + "/"
    root = bucket.path(folder) if folder else base.rstrip("/")

    def listing() -> list[str]:
        try:
            return list(bucket.fs.find(root, maxdepth=1, prefix=start))
        except FileNotFoundError:
            return []

    found = bucket._retrying(head, listing)  # Bucket owns retries and error translation
    keys = [p[len(base) :] if p.startswith(base) else p for p in found]
    return sorted(k for k in keys if k.startswith(head))


def open_prefix(bucket: Bucket, claim: Claim, jobs: Iterable[ImageJob] = ()) -> PrefixState:
    """Check that ``claim`` may publish under its prefix; its previous manifest and the
    other sharing specs' manifests. Raises :class:`PrefixConflict` (exit 2) if not.

    ``jobs`` (``ImageJob``): checked against the other specs' keys with stable naming.
    """
    where = f"{bucket.config.label}/{claim.prefix}" if claim.prefix else bucket.config.label
    exclusive = read_manifest(bucket, claim.prefix)
    if exclusive is not None and exclusive.spec_name != claim.spec:
        raise PrefixConflict(
            f"storage prefix {where!r} belongs to spec {exclusive.spec_name!r} "
            f"({manifest_key(claim.prefix)}); spec {claim.spec!r} may not publish there: "
            f"its runs would drop {exclusive.spec_name!r}'s images and --prune would delete "
            f"its objects. Use another storage.prefix, or {HOW_TO_SHARE}"
        )
    sharers = _sharers(bucket, claim.prefix)
    others = [name for name in sharers if name != claim.spec]
    if not claim.shared:
        if others:
            raise PrefixConflict(
                f"storage prefix {where!r} is shared by spec(s) {', '.join(map(repr, others))}; "
                f"spec {claim.spec!r} does not say it shares it: {HOW_TO_SHARE}"
            )
        if exclusive is None and claim.spec in sharers:  # shared → one owner: move it
            previous = read_manifest(bucket, claim.prefix, claim.spec)
            return PrefixState(claim, previous, moving=True, moved_own=claim.spec)
        return PrefixState(claim, exclusive)
    state = PrefixState(claim, read_manifest(bucket, claim.prefix, claim.spec))
    if exclusive is not None:  # our own, from before we shared: move it
        if state.previous is None:
            state.previous = exclusive
        state.moving, state.moved_own = True, None
    for name in others:
        manifest = read_manifest(bucket, claim.prefix, name)
        if manifest is not None:
            state.others[name] = manifest
        else:
            state.unreadable.append(name)
    if bucket.config.naming == "stable":
        _check_stable_keys(state, jobs, where)
    return state


def _check_stable_keys(state: PrefixState, jobs: Iterable[ImageJob], where: str) -> None:
    """Stable names are overwritten in place: two specs must never write the same one.
    (Hashed names are content-addressed: the same key is the same bytes, safe to share.)"""
    mine = {o.object_key: job.id for job in jobs for o in job.outputs}
    for name, manifest in state.others.items():
        theirs = {o.key for e in manifest.images.values() for o in e.outputs}
        clash = sorted(set(mine) & theirs)
        if clash:
            raise PrefixConflict(
                f"spec {state.claim.spec!r} would overwrite {len(clash)} object(s) of spec "
                f"{name!r} under {where!r} (e.g. {clash[0]!r}, image {mine[clash[0]]!r}): "
                "with naming: stable, specs that share a prefix need different image ids"
            )


def retire_moved(bucket: Bucket, state: PrefixState) -> None:
    """After this spec's manifest was written in its new place: delete the old one and
    its gallery page (only ever this spec's own: checked again just before)."""
    if not state.moving:
        return
    prefix, own = state.claim.prefix, state.moved_own
    old = read_manifest(bucket, prefix, own)
    if old is None or old.spec_name != state.claim.spec:
        return
    bucket.delete(manifest_key(prefix, own))
    bucket.delete(gallery_key(prefix, own))


__all__ = ["Claim", "PrefixConflict", "PrefixState", "claim_of", "open_prefix", "retire_moved"]
