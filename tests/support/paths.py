"""Where the checkout is, for tests that run its code in subprocesses or copy its files."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
