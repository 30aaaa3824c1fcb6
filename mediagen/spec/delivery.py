"""How an image's answer is delivered: ``delivery: sync | batch | flex``.

The same image, asked three ways. It is *how* (and at what price and latency) the
backend is asked, never *what*: the delivery does not enter ``gen_key``, so moving a
spec from ``sync`` to ``batch`` regenerates nothing, and an original made one way is
reused by the other two.

- ``sync`` (default): one ordinary call per image, answered in seconds, full price.
- ``batch``: the images go to the provider's batch API; half price, answered in
  minutes to hours (``docs/batch.md``).
- ``flex``: ordinary calls on the provider's flex tier; half price, 1-15 minutes
  per answer, not every model takes it (``docs/backends.md``).

``mediagen run --delivery`` overrides whatever the spec says (:func:`override`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediagen.spec.job import JobSpec


class Delivery(StrEnum):
    """How the backend is asked for an image (not what: never part of a cache key)."""

    SYNC = "sync"
    BATCH = "batch"
    FLEX = "flex"


DEFAULT_DELIVERY = Delivery.SYNC
DELIVERY_NAMES = tuple(d.value for d in Delivery)

DELIVERY_HELP = (
    "How the images are asked for: sync (default; seconds, full price), batch (the "
    "batch API: half price, minutes to hours) or flex (the flex tier: half price, "
    "1-15 minutes per image, not every model). Never part of the cache key."
)


def override(spec: JobSpec, delivery: Delivery | str | None) -> JobSpec:
    """``spec`` with every image delivered as ``delivery`` (``None``: unchanged).

    What ``mediagen run --delivery`` does: the spec's default *and* every image's
    own choice give way, so the whole run is delivered one way.
    """
    if delivery is None:
        return spec
    value = Delivery(delivery)
    images = [
        image.model_copy(update={"delivery": None}) if image.delivery is not None else image
        for image in spec.images
    ]
    defaults = spec.defaults.model_copy(update={"delivery": value})
    return spec.model_copy(update={"defaults": defaults, "images": images})


__all__ = ["DEFAULT_DELIVERY", "DELIVERY_HELP", "DELIVERY_NAMES", "Delivery", "override"]
