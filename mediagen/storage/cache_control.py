"""The Cache-Control header of every object mediagen publishes.

Content-addressed keys (``hashed`` naming, originals) never change: browsers and
CDNs may keep them a year. Keys overwritten in place (the manifest, the gallery,
``stable`` names) get a minute. Private objects say ``private``, so a shared
cache (a CDN, a proxy) never keeps them.
"""

from __future__ import annotations


def cache_control_for(*, immutable: bool, public: bool) -> str:
    """Cache-Control for an object: a year and ``immutable`` for content-addressed keys,
    a minute for keys that are overwritten in place (manifest, ``stable`` names).
    Private objects say ``private`` so shared caches (CDNs, proxies) never keep them."""
    scope = "public" if public else "private"
    if immutable:
        return f"{scope}, max-age=31536000, immutable"
    return f"{scope}, max-age=60, must-revalidate"


__all__ = ["cache_control_for"]
