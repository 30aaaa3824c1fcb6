"""The public surface is ``mediagen.__all__``, and only that (after httpx's
``tests/test_exported_members.py``).

- every public name of the ``mediagen`` module is in ``__all__``, and every
  name in ``__all__`` resolves (the lazy ones too);
- each is mediagen's own (``__module__`` starts with ``mediagen``), not a
  re-export of a dependency's object;
- every exception users can catch is there: ``from mediagen import SpecBusyError``;
- ``import mediagen`` stays light: no pydantic, Pillow or Prefect until an API
  name is used.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import pytest

import mediagen
from mediagen import errors

INCLUDED_PRIVATE_MEMBERS = {"__version__"}


def public_members() -> set[str]:
    """Names a user sees on ``mediagen``: its attributes (subpackages aside: they are
    the implementation) and the names it imports on first use."""
    return {
        name
        for name, value in vars(mediagen).items()
        if (not name.startswith("_") or name in INCLUDED_PRIVATE_MEMBERS)
        and not isinstance(value, types.ModuleType)
    } | set(mediagen._LAZY)


def test_all_public_members_are_exported() -> None:
    assert len(mediagen.__all__) == len(set(mediagen.__all__))  # no name twice
    assert set(mediagen.__all__) == public_members()


def test_every_exported_name_resolves_to_our_own_object() -> None:
    for name in mediagen.__all__:
        value = getattr(mediagen, name)
        if name == "__version__":
            assert isinstance(value, str) and value
            continue
        assert value.__module__.startswith("mediagen."), f"{name}: {value.__module__}"
        assert value.__name__ == name
    assert set(dir(mediagen)) >= set(mediagen.__all__)  # tab completion sees the lazy names


def test_every_error_users_catch_is_exported() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    }
    assert {"MediagenError", "SpecBusyError", "BadAnswerError", "RunInterruptedError"} <= defined
    assert defined <= set(mediagen.__all__)
    for name in defined:
        assert getattr(mediagen, name) is getattr(errors, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        mediagen.NoSuchThing  # noqa: B018


def test_import_mediagen_is_light() -> None:
    # A fresh interpreter: this one has imported everything already.
    code = (
        "import sys, mediagen\n"
        "heavy = {'pydantic', 'PIL', 'prefect', 'fsspec', 'google.genai', 'mediagen.spec'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "mediagen.MediaClient\n"
        "print('pydantic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.split("\n")[:2] == ["[]", "True"], result.stdout
