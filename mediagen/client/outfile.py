"""Writing one file where a user asked (``mediagen generate --out``), safely.

- The target is checked *before* any image is made (nothing is paid for a file
  that cannot be written): not a folder, a name the file system can hold, a
  parent folder that exists (created only when asked: ``--parents``).
- The bytes go to a new temporary file with a unique name in the target's
  folder, created exclusively and never through a symbolic link, then renamed
  over the target in one step: readers see the old file or the new one, never
  half of one, and a link planted at a predictable temp name is never followed.

Every problem is a :class:`~mediagen.errors.SpecError` naming the path (the CLI
prints one line and exits 2).
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from mediagen.errors import SpecError

DEFAULT_NAME_MAX = 255


def check_target(path: str | os.PathLike[str], *, parents: bool = False) -> Path:
    """``path`` as a Path if a file can be written there; SpecError saying why not."""
    path = Path(path)
    name, parent = path.name, path.parent
    limit = _name_max(parent)
    if len(os.fsencode(name)) > limit:  # before any stat: it would fail with ENAMETOOLONG
        raise SpecError(
            f"--out: the file name is {len(os.fsencode(name))} bytes long; "
            f"this file system allows {limit}"
        )
    if _is_dir(path):
        raise SpecError(f"--out {path}: is a folder; give a file name, e.g. {path / 'image.png'}")
    if not name or name in (".", ".."):
        raise SpecError(f"--out {path}: give a file name, e.g. image.png")
    if not _is_dir(parent):
        if os.path.lexists(parent):
            raise SpecError(f"--out {path}: {parent} is not a folder")
        if not parents:
            raise SpecError(
                f"--out {path}: the folder {parent} does not exist (add --parents to create it)"
            )
    return path


def write_atomically(path: str | os.PathLike[str], data: bytes, *, parents: bool = False) -> Path:
    """Write ``data`` to ``path`` through a unique temporary file in the same folder."""
    path = check_target(path, parents=parents)
    try:
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp, fd = _create_temp(path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:  # the file we created, not a name looked up again
                handle.write(data)
            os.replace(tmp, path)  # a link at ``path`` is replaced, never followed
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SpecError(f"--out {path}: cannot write it ({exc.strerror or exc})") from None
    return path


def _create_temp(folder: Path) -> tuple[Path, int]:
    # O_EXCL | O_NOFOLLOW: a new file of ours, whatever was planted; mode 0666 & ~umask,
    # like any file a user writes (mkstemp's 0600 would surprise).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = folder / f".mediagen-{secrets.token_hex(8)}.part"
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary name")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:  # a parent's name too long, a loop of links...
        raise SpecError(f"--out {path}: {exc.strerror or exc}") from None


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system at ``folder`` (or its nearest
    existing ancestor) holds."""
    for candidate in (folder, *folder.parents):
        if _is_dir(candidate):
            try:
                return int(os.pathconf(candidate, "PC_NAME_MAX"))
            except (OSError, ValueError):
                return DEFAULT_NAME_MAX
    return DEFAULT_NAME_MAX


__all__ = ["check_target", "write_atomically"]
