"""Who may choose where images go: trusted specs and specs from other people.

A spec you run on your own machine (``mediagen run``, ``plan``, ``validate``,
the Python API) is **trusted**: it may publish to any folder, bucket or
endpoint, because you hold the credentials and chose the file.

A spec that reaches a worker from someone else, through ``mediagen submit``, a
deployment's ``spec`` parameter or the API's batch handler, is **untrusted**.
The worker signs its S3 requests with its own keys (the access key id goes to
whatever endpoint the spec names) and writes with its own file permissions,
so such a spec may only use:

- the worker's configured storage (leave ``storage`` out, or name the
  ``MEDIAGEN_STORAGE_BUCKET`` / ``MEDIAGEN_STORAGE_ENDPOINT_URL`` it has);
- a local folder inside ``MEDIAGEN_BUCKET_DIR`` (no absolute path, ``..`` or ``~``);
- a bucket listed in ``MEDIAGEN_ALLOWED_BUCKETS`` and an endpoint listed in
  ``MEDIAGEN_ALLOWED_ENDPOINTS`` (``*`` allows any: only for a worker whose
  every submitter is trusted).

Both lists are empty by default. Refusals are :class:`SpecError` naming the
field and the setting that would allow it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mediagen.errors import ConfigurationError, SpecError
from mediagen.settings import Settings
from mediagen.spec.models import JobSpec

ORIGINS = "a spec from a deployment, `mediagen submit` or the API"


def check_untrusted_spec(spec: JobSpec, settings: Settings, source: str = "spec") -> None:
    """Raise SpecError when ``spec`` chooses storage that the worker's settings do not allow."""
    target = spec.storage
    problems: list[str] = []
    if target.provider == "local":
        problem = _local_problem(target.bucket, settings)
        if problem:
            problems.append(f"storage.bucket: {problem}")
    else:
        if not _allowed(target.bucket, settings.storage_bucket, settings.allowed_buckets):
            problems.append(
                f"storage.bucket: {ORIGINS} may not publish to bucket {target.bucket!r}: "
                "this worker allows only its MEDIAGEN_STORAGE_BUCKET and MEDIAGEN_ALLOWED_BUCKETS"
            )
        endpoint = target.endpoint_url
        if endpoint is not None and not _allowed(
            _norm(endpoint),
            _norm(settings.storage_endpoint_url),
            [_norm(e) for e in settings.allowed_endpoints],
        ):
            problems.append(
                f"storage.endpoint_url: {ORIGINS} may not send this worker's credentials to "
                f"{endpoint!r}: allow it in MEDIAGEN_ALLOWED_ENDPOINTS"
            )
    problems += _reference_problems(spec)
    if problems:
        raise SpecError(f"{source} {spec.name!r}: storage not allowed here", problems)


def _reference_problems(spec: JobSpec) -> list[str]:
    """Reference files a worker may read for someone else: only beside a spec file of the
    project folder (a relative path, no '..'); an inline spec may name bucket keys only."""
    lists = [("defaults.references", spec.defaults.references)] + [
        (f"images[{i}].references", image.references) for i, image in enumerate(spec.images)
    ]
    problems = []
    for where, references in lists:
        for j, reference in enumerate(references or []):
            file = reference.file
            if file is None:
                continue
            path = Path(file)
            if spec.origin.base_dir is None:
                why = "a spec given as content may name bucket keys only ({key: ...})"
            elif file.startswith("~") or path.is_absolute() or ".." in path.parts:
                why = "a file must be a relative path beside the spec (no '..', '~' or '/')"
            else:
                continue
            problems.append(f"{where}[{j}]: {ORIGINS} may not read {file!r}: {why}")
    return problems


def check_spec(spec: JobSpec, settings: Settings, *, trusted: bool) -> None:
    """The one call for every entry point: nothing for a trusted spec, the rules otherwise."""
    if not trusted:
        check_untrusted_spec(spec, settings)


def check_spec_source(spec: object, *, trusted: bool) -> None:
    """An untrusted run may name a spec *file* only inside the project folder.

    Otherwise a submitter could name any file the worker can read, and the error
    message ("a spec must be a mapping, not '...'") would show its first line.
    Inline mappings and YAML text are always fine (they are checked as specs).
    """
    if trusted or not isinstance(spec, str) or "\n" in spec:
        return
    path = Path(spec)
    as_path = spec.endswith((".yaml", ".yml")) or ":" not in spec or _is_file(path)
    if not as_path:
        return  # one line of YAML text
    try:
        inside = Path(spec).resolve().is_relative_to(Path.cwd().resolve())
    except (OSError, ValueError):
        inside = False
    plain = not (spec.startswith("~") or path.is_absolute() or ".." in path.parts)
    if not (plain and inside and path.suffix in (".yaml", ".yml")):
        raise SpecError(
            f"{ORIGINS} may name a spec file only as a relative .yaml path inside the "
            "project folder; send the spec's content instead"
        )


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _allowed(value: str | None, configured: str | None, allowed: list[str]) -> bool:
    return value is not None and (value == configured or value in allowed or "*" in allowed)


def _norm(url: str | None) -> str | None:
    return url.strip().rstrip("/").lower() if url else url


def _local_problem(bucket: str | None, settings: Settings) -> str | None:
    if bucket is None:
        return None  # MEDIAGEN_BUCKET_DIR itself
    text = bucket.strip()
    root = Path(settings.bucket_dir).expanduser().resolve()
    if text.startswith("~") or os.path.isabs(text) or ".." in Path(text).parts:
        why = "an absolute path, '..' or '~'"
    else:
        try:
            inside = Path(text).resolve().is_relative_to(root)  # links resolved too
        except (OSError, ValueError):
            inside = False
        if inside:
            return None
        why = "a folder outside it"
    return (
        f"{ORIGINS} may only publish inside MEDIAGEN_BUCKET_DIR ({root}), not {why} "
        f"({bucket!r}); leave storage.bucket out"
    )


def ensure_local_bucket(folder: str, named_by_spec: bool) -> None:
    """Create a local bucket folder, or say in one line why it cannot be (no traceback)."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        where = "storage.bucket" if named_by_spec else "MEDIAGEN_BUCKET_DIR"
        raise ConfigurationError(
            f"the local bucket folder {folder} cannot be created ({exc.strerror or exc}); "
            f"set {where} to a folder you can write"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        where = "storage.bucket" if named_by_spec else "MEDIAGEN_BUCKET_DIR"
        raise ConfigurationError(f"the local bucket folder {folder} is not writable; fix {where}")
