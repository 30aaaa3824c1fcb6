"""The scratch folder: private to the user, checked, and never trusted blindly.

Processed files wait here between the process and upload stages, and an
original whose upload failed waits here for the task's retry (so the backend
is not paid twice). File names are computable from a spec (``gen_key``,
``out_key``), so a folder other users can write to would let them plant a file
that mediagen then publishes. Hence:

- the default folder is per user, ``$TMPDIR/mediagen-work-<uid>``, created
  with mode 0700; it must be a real folder (not a symlink), owned by this
  user, with no group or other permissions, or mediagen refuses to run;
- ``MEDIAGEN_WORK_DIR`` (your choice of place) must be owned by this user and
  not writable by group or others; mediagen creates it with mode 0700;
- a pending original is reused only when its bytes hash to what the backend
  returned (recorded beside it, and in this process); a processed file is
  published only when its bytes hash to what processing produced.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from mediagen.errors import ConfigurationError
from mediagen.settings import Settings, get_settings

# gen_key → sha256 of the bytes the backend returned, for pending originals written here.
_returned: dict[str, str] = {}
_returned_lock = threading.Lock()


def default_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"mediagen-work-{os.getuid()}"


def scratch_dir(settings: Settings | None = None) -> Path:
    """The checked scratch folder (created when missing); ConfigurationError when unsafe."""
    settings = settings or get_settings()
    chosen = settings.work_dir
    base = Path(chosen).expanduser() if chosen else default_dir()
    return private_dir(base, chosen=bool(chosen))


def private_dir(
    base: Path,
    *,
    chosen: bool = False,
    what: str = "scratch folder",
    fix: str = "set MEDIAGEN_WORK_DIR to a folder only you can write to",
) -> Path:
    """``base`` created 0700 when missing, else checked (see the module docstring).

    ``chosen``: a folder the user named (its parents may be created; it need only
    be theirs and not writable by others) rather than one of our defaults (0700).
    """
    try:
        if chosen:
            base.parent.mkdir(parents=True, exist_ok=True)
        base.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(base)
    except OSError as exc:
        raise ConfigurationError(
            f"{what} {base}: cannot create it ({exc.strerror or exc}); {fix}"
        ) from None
    problem = _problem(info, strict=not chosen)
    if problem:
        raise ConfigurationError(
            f"{what} {base} is {problem}: refusing to use it, since files planted there "
            f"would be trusted; remove it, or {fix}"
        )
    return base


def _problem(info: os.stat_result, *, strict: bool) -> str:
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "not a folder"
    if info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}, not by you (uid {os.getuid()})"
    mode = stat.S_IMODE(info.st_mode)
    loose = mode & (0o077 if strict else 0o022)
    if loose:
        allowed = "0700" if strict else "no group or other write"
        return f"mode {mode:04o} (needs {allowed})"
    return ""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_pending(path: Path, data: bytes, info: dict[str, Any]) -> None:
    """Keep a generated original (and how it was made) for a retry of its upload."""
    sha = digest(data)
    with _returned_lock:
        _returned[path.stem] = sha
    _write_atomically(path, data)
    _write_atomically(path.with_suffix(".json"), json.dumps({**info, "sha256": sha}).encode())


def read_pending(path: Path) -> tuple[dict[str, Any], bytes]:
    """A pending original and its info, only if its bytes are what the backend returned.

    FileNotFoundError when there is none; ValueError when it is not to be trusted
    (the caller asks the backend again, and the rewrite replaces the files).
    """
    info = json.loads(path.with_suffix(".json").read_text())
    data = path.read_bytes()
    sha = digest(data)
    with _returned_lock:
        known = _returned.get(path.stem)
    if not isinstance(info, dict) or info.get("sha256") != sha or known not in (None, sha):
        raise ValueError(f"{path.name}: not the bytes the backend returned")
    info.pop("sha256")
    return info, data


def forget_pending(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)
    with _returned_lock:
        _returned.pop(path.stem, None)


def read_verified(path: Path, sha256: str) -> bytes | None:
    """The file's bytes if they hash to ``sha256``; None when missing or different."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return data if digest(data) == sha256 else None


def _write_atomically(path: Path, data: bytes) -> None:
    # A unique temporary name in the same folder, created exclusively (never through a link).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "default_dir",
    "digest",
    "forget_pending",
    "private_dir",
    "read_pending",
    "read_verified",
    "scratch_dir",
    "write_pending",
]
