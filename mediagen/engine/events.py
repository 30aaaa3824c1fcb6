"""A tiny event bus per run, so a CLI progress bar can follow a run.

Stages emit ``(image_id, event)`` on their run's :class:`EventBus`; events are
"generated", "published", "failed" and "blocked". Listeners run in the emitting
thread and must be quick. A listener that raises is dropped from that call,
never breaking the run. Each :class:`~mediagen.engine.run.Run` has its own bus:
a listener hears its run only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, str], None]


class EventBus:
    """Listeners of one run. Thread-safe."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener``; returns a function that unregisters it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, image_id: str, event: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(image_id, event)
            except Exception:  # a broken progress bar must not fail an image
                continue
