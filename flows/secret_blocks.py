"""Read the Gemini key from a Prefect Secret block named in settings.

With ``MEDIAGEN_GEMINI_API_KEY_BLOCK=gemini-key`` (and no ``GEMINI_API_KEY``),
the flow loads the Secret block ``gemini-key`` from the Prefect server the
first time a backend needs it. The value stays out of flow parameters, logs
and artifacts; the library sees it through :mod:`mediagen.backends.gemini.credentials` only.

(Not named ``secrets.py``: Prefect puts ``flows/`` on ``sys.path``, where that
name hid the stdlib ``secrets`` module and Dask's workers failed to start.
tests/test_module_names.py keeps every name here clear of such clashes.)
"""

from __future__ import annotations

from prefect.blocks.system import Secret

from mediagen.backends.gemini import credentials


def load_secret(name: str) -> str:
    value = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    return str(value)


def register() -> None:
    """Let mediagen read secrets from Prefect Secret blocks (idempotent)."""
    credentials.register_secret_loader(load_secret)
