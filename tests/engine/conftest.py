"""Fixtures of the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen import backends
from tests.support.candidates import SeedPaintBackend


@pytest.fixture
def seedpaint(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> type[SeedPaintBackend]:
    """The ``seedpaint`` backend (candidates of known colours), no colours assigned yet."""
    monkeypatch.setitem(
        backends.BUILTIN_BACKENDS, "seedpaint", "tests.support.candidates:SeedPaintBackend"
    )
    monkeypatch.setattr(SeedPaintBackend, "colours", {})
    return SeedPaintBackend
