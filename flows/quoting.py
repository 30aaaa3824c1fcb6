"""Hand Prefect big values without letting it walk them.

Prefect visits every task parameter and a flow's return value, item by item,
looking for futures and states to resolve (``visit_collection``). For a task run
of ten images that is every field of ten jobs; for the flow, every entry of the
manifest. At 1,000 images that walk cost more CPU than the images' own
processing (``bench/versus_peer.py``, issue 15). Prefect's ``quote`` marks a value
it must pass through untouched; :func:`quoted` is that, plus one fix.

The fix: ``quote`` is a tuple subclass without ``__getnewargs__``, so pickling
it (a Dask worker's parameters) rebuilds ``quote((value,))``, and the task gets a
1-tuple instead of its value. :class:`Quoted` pickles as its value.
"""

from __future__ import annotations

from typing import TypeVar

from prefect.utilities.annotations import quote

T = TypeVar("T")


class Quoted(quote[T]):
    """Prefect's ``quote`` that survives pickling (Dask)."""

    __slots__ = ()

    def __getnewargs__(self) -> tuple[T]:  # type: ignore[override]
        return (self.unwrap(),)


def quoted(value: T) -> Quoted[T]:
    """``value``, passed through Prefect (as a parameter or a returned state's data)
    without being visited, resolved or copied."""
    return Quoted(value)


__all__ = ["Quoted", "quoted"]
