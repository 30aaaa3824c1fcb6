"""The pull step of mediagen's deployments: run flows from the project's checkout.

A deployment names its entrypoint (``flows/generate_media.py``) and the
scheduled one a spec path (``specs/examples/...``) relative to the project, so
a flow run must start in the project's folder. That folder differs by machine
(a developer's checkout, ``/opt/mediagen`` in an image), so ``prefect.yaml``
names none: the flow run's environment does, through ``MEDIAGEN_PROJECT_DIR``
(set on the worker, or in the work pool's job variables). Without it, a
checkout installed with ``pip install -e .`` is found from this file.
"""

from __future__ import annotations

import os
from pathlib import Path

ENTRYPOINT = Path("flows/generate_media.py")


def set_project_directory(directory: str | None = None) -> dict[str, str]:
    """Change into the project folder; returns ``{"directory": ...}`` for Prefect."""
    chosen = directory or os.environ.get("MEDIAGEN_PROJECT_DIR") or ""
    path = Path(chosen).expanduser() if chosen else Path(__file__).resolve().parents[1]
    if not (path / ENTRYPOINT).is_file():
        where = f"MEDIAGEN_PROJECT_DIR={chosen}" if chosen else f"the installed package ({path})"
        raise FileNotFoundError(
            f"no {ENTRYPOINT} under {where}: set MEDIAGEN_PROJECT_DIR, on the worker or in "
            "the work pool's job variables, to the mediagen checkout the flows run from"
        )
    os.chdir(path)
    return {"directory": str(path.resolve())}
