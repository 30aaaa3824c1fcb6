"""Keep a run's memory flat: fewer glibc malloc arenas for a many-threaded process.

glibc gives each thread that allocates under contention its own arena (up to
8 per core) and keeps freed memory in it. A run has dozens of task threads,
each decoding and encoding megapixel images now and then, so every arena ends
up holding a few image buffers it never returns: measured here, a 100-image
1024 px run peaked at 522 MB with the default and 328 MB with two arenas, for
the same wall time (benchmark 3 in ``bench/``). Two arenas are plenty: the
work is bounded by two cores and the GIL, not by malloc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger("mediagen")

ARENAS = 2
_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap malloc arenas in this process and in the processes it starts (Dask workers).

    A user's own ``MALLOC_ARENA_MAX`` wins. Returns True when the cap was applied
    here (glibc only; elsewhere this does nothing).
    """
    value = int(os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas)))
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, value))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        logger.debug("mallopt unavailable: malloc arenas left as they are")
        return False
