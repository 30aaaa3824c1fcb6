"""A tiny in-process event bus, so a CLI progress bar can follow a run.

Stages emit ``(image_id, event)``; events are "generated", "published",
"failed" and "blocked". Listeners run in the emitting thread and must be quick.
A listener that raises is dropped from that call, never breaking the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, str], None]

_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Register ``listener``; returns a function that unregisters it."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def emit(image_id: str, event: str) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(image_id, event)
        except Exception:  # a broken progress bar must not fail an image
            continue
