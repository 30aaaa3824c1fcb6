"""Reference images at planning: read, checked, hashed, counted against the model.

``expand_spec`` asks a :class:`ReferenceResolver` for each image's references
(:mod:`mediagen.spec.references`). Each distinct reference is read once per
plan: a file relative to the spec's folder (or, for a spec given inline, the
working folder), or an object in the spec's bucket. Its bytes must be a PNG,
JPEG or WebP image that decodes, of at most
:data:`~mediagen.spec.references.MAX_REFERENCE_BYTES`; its sha256 and role go
into the request (so into ``gen_key``: a changed picture regenerates exactly
the images that use it), with its type, where it is and its dominant colours,
never its bytes (the engine reads them again just before the call, see
:mod:`mediagen.engine.references`). A list longer than the model takes
(:meth:`~mediagen.backends.base.Backend.max_reference_images`) is refused.

Every problem is a spec error naming ``file:line:field`` (the spec's
:class:`~mediagen.spec.references.SpecOrigin`), collected for the whole spec.
A file's facts are cached per process by path, size and modification time, so
planning the same spec twice does not decode its references twice.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from mediagen.backends.base import Backend, ReferenceImage
from mediagen.imaging.reference_facts import reference_facts
from mediagen.settings import Settings
from mediagen.spec.job import JobSpec
from mediagen.spec.references import (
    MAX_REFERENCE_BYTES,
    MAX_REQUEST_REFERENCE_BYTES,
    Reference,
)

Loc = tuple[Any, ...]
_FILE_CACHE: dict[tuple[str, int, int], tuple[str, str, tuple[str, ...], int]] = {}
_BYTES_CACHE: dict[str, tuple[str, tuple[str, ...]]] = {}  # sha256 → (mime, colours)


class ReferenceProblem(Exception):
    """One reference that cannot be used; the message says why (no location)."""


def source_of(reference: Reference, base_dir: str | None) -> str:
    """``file:/absolute/path`` or ``key:the/key``: where the bytes are read from."""
    if reference.key is not None:
        return f"key:{reference.key.lstrip('/')}"
    path = Path(os.path.expanduser(reference.file or ""))
    if not path.is_absolute():
        path = Path(base_dir or os.getcwd()) / path
    return f"file:{os.path.abspath(path)}"


def read_file(path: str, max_bytes: int = MAX_REFERENCE_BYTES) -> bytes:
    """The bytes of a reference file, refusing what is missing, not a file, or too large."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ReferenceProblem(f"no such file: {path}") from None
    except OSError as exc:
        raise ReferenceProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ReferenceProblem(f"{path} is not a regular file")
    _check_size(path, info.st_size, max_bytes)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ReferenceProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    _check_size(path, len(data), max_bytes)
    return data


def _check_size(what: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ReferenceProblem(
            f"{what} is {size / 2**20:.1f} MiB; a reference may be at most "
            f"{max_bytes / 2**20:.0f} MiB (make it smaller: 1-2 K px is plenty)"
        )


class ReferenceResolver:
    """Resolves the references of one spec's images; collects located problems."""

    def __init__(self, spec: JobSpec, settings: Settings, backend: type[Backend]) -> None:
        self.spec = spec
        self.settings = settings
        self.backend = backend
        self.origin = spec.origin
        self.problems: list[str] = []
        self._seen: dict[str, ReferenceImage | ReferenceProblem] = {}
        self._sizes: dict[str, int] = {}  # source → bytes
        self._sources: dict[tuple[str | None, str | None], str] = {}
        self._reported: set[tuple[str, str]] = set()
        self._bucket: Any = None

    def resolve(
        self, references: list[Reference] | None, loc: Loc, model: str
    ) -> tuple[ReferenceImage, ...]:
        """The references of one image (``loc``: where its list was written)."""
        if not references:
            return ()
        limit = self.backend.max_reference_images(model)
        if len(references) > limit:
            self._report(loc, f"{len(references)} reference images; {model!r} takes at most "
                              f"{limit} per request")  # fmt: skip
        resolved: list[ReferenceImage] = []
        for index, reference in enumerate(references):
            found = self._one(reference)
            if isinstance(found, ReferenceProblem):
                self._report((*loc, index), f"{reference.where}: {found}")
                continue
            resolved.append(
                ReferenceImage(
                    found.sha256, reference.role or "", found.mime_type, found.source, found.colors
                )
            )
        total = sum(self._sizes.get(r.source, 0) for r in resolved)
        if total > MAX_REQUEST_REFERENCE_BYTES:
            most = MAX_REQUEST_REFERENCE_BYTES / 2**20
            self._report(
                loc, f"the references are {total / 2**20:.1f} MiB together; a request "
                f"carries at most {most:.0f} MiB"
            )  # fmt: skip
        return tuple(resolved)

    def _report(self, loc: Loc, message: str) -> None:
        where = self.origin.where(loc)
        if (where, message) not in self._reported:  # a default's problem once, not per image
            self._reported.add((where, message))
            self.problems.append(f"{where}: {message}")

    def _one(self, reference: Reference) -> ReferenceImage | ReferenceProblem:
        written = (reference.file, reference.key)  # a default's list: the same for every image
        source = self._sources.get(written)
        if source is None:
            source = self._sources[written] = source_of(reference, self.origin.base_dir)
        if source not in self._seen:
            try:
                self._seen[source] = self._read(source)
            except ReferenceProblem as exc:
                self._seen[source] = exc
        return self._seen[source]

    def _read(self, source: str) -> ReferenceImage:
        kind, _, where = source.partition(":")
        if kind == "file":
            info = _stat(where)
            cache_key = (where, info.st_size, info.st_mtime_ns) if info else None
            if cache_key in _FILE_CACHE:
                sha, mime, colors, size = _FILE_CACHE[cache_key]  # type: ignore[index]
                self._sizes[source] = size
                return ReferenceImage(sha, "", mime, source, colors)
            data = read_file(where)
        else:
            data = self._from_bucket(where)
        sha = hashlib.sha256(data).hexdigest()
        self._sizes[source] = len(data)
        if sha not in _BYTES_CACHE:
            try:
                facts = reference_facts(data)
            except ValueError as exc:
                raise ReferenceProblem(str(exc)) from None
            _BYTES_CACHE[sha] = (facts.mime_type, facts.colors)
        mime, colors = _BYTES_CACHE[sha]
        if kind == "file" and cache_key is not None:
            _FILE_CACHE[cache_key] = (sha, mime, colors, len(data))
        return ReferenceImage(sha, "", mime, source, colors)

    def _from_bucket(self, key: str) -> bytes:
        from mediagen.errors import MediagenError
        from mediagen.storage.bucket import Bucket, BucketConfig

        try:
            if self._bucket is None:
                self._bucket = Bucket(BucketConfig.for_spec(self.spec, self.settings))
            data = self._bucket.get(key)
        except FileNotFoundError:
            raise ReferenceProblem(f"no object {key!r} in the spec's bucket") from None
        except (MediagenError, OSError) as exc:
            raise ReferenceProblem(f"cannot read {key!r} from the bucket: {exc}") from None
        _check_size(repr(key), len(data), MAX_REFERENCE_BYTES)
        return data


def forget_file(path: str) -> None:
    """Drop what is cached about ``path`` (its bytes were found changed under the same
    size and modification time): the next plan reads it again."""
    for key in [k for k in _FILE_CACHE if k[0] == path]:
        _FILE_CACHE.pop(key, None)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


__all__ = ["ReferenceProblem", "ReferenceResolver", "forget_file", "read_file", "source_of"]
