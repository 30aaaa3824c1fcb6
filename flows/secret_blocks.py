"""Read backend keys from Prefect Secret blocks named in settings.

A backend's settings may name a Secret block instead of holding its key (the
backend docs, docs/backends.md, list each ``..._API_KEY_BLOCK`` setting); the flow loads the
block from the Prefect server the first time that backend needs it. The value
stays out of flow parameters, logs and artifacts; the library sees it through
:mod:`mediagen.backends.credentials` only, and names no provider here.

(Not named ``secrets.py``: Prefect puts ``flows/`` on ``sys.path``, where that
name hid the stdlib ``secrets`` module and Dask's workers failed to start.
tests/test_module_names.py keeps every name here clear of such clashes.)
"""

from __future__ import annotations

from prefect.blocks.system import Secret

from mediagen.backends import credentials


def load_secret(name: str) -> str:
    value = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    return str(value)


def register() -> None:
    """Let mediagen read secrets from Prefect Secret blocks (idempotent)."""
    credentials.register_secret_loader(load_secret)
