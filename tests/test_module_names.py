"""No module of ours may hide a stdlib or installed module in a flow-run process.

Prefect loads a deployment's entrypoint (``flows/generate_media.py``) with its
folder on ``sys.path``, and Dask's worker processes inherit that path. So every
``flows/*.py`` (and package folder) is importable there as a top-level name: a
``flows/secrets.py`` once hid the stdlib ``secrets`` module and every
``adhoc-dask`` run failed with "Nanny failed to start". The project's two
packages, ``flows`` and ``mediagen``, are top-level names everywhere.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

OURS = {"mediagen"}  # our own distribution: its names are ours to use


def top_level_names() -> dict[str, Path]:
    """Every name our code puts at the top of ``sys.path`` in a flow run."""
    names = {"flows": REPO / "flows", "mediagen": REPO / "mediagen"}
    for path in sorted((REPO / "flows").iterdir()):
        if path.suffix == ".py" and path.stem != "__init__":
            names[path.stem] = path
        elif path.is_dir() and (path / "__init__.py").is_file():
            names[path.name] = path
    return names


def installed_names() -> dict[str, list[str]]:
    """Top-level import names of every installed distribution but ours."""
    return {
        name: dists
        for name, dists in importlib.metadata.packages_distributions().items()
        if not set(dists) <= OURS
    }


def test_the_lists_are_real() -> None:
    # Guards the test itself: an empty list would make every check below pass.
    assert {"generate_media", "workdir", "flows", "mediagen"} <= set(top_level_names())
    assert {"prefect", "PIL", "distributed"} <= set(installed_names())
    assert {"secrets", "logging"} <= sys.stdlib_module_names


@pytest.mark.parametrize("name", sorted(top_level_names()))
def test_no_module_shadows_the_stdlib_or_an_installed_package(name: str) -> None:
    where = top_level_names()[name].relative_to(REPO)
    assert name not in sys.stdlib_module_names, f"{where} hides the stdlib module {name!r}"
    installed = installed_names()
    assert name not in installed, f"{where} hides {name!r} of {', '.join(installed[name])}"
