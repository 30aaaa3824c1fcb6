"""Fixtures of the CLI tests: a user's folder to run ``mediagen`` in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import install_counting_plugin
from tests.support.paths import REPO


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder: the example specs, plus a test backend installed as a plugin."""
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    install_counting_plugin(tmp_path)
    return tmp_path
