"""The backend registry: register_implementation (fsspec's rules), lazy import with
install hints, entry-point plugins, and what 'auto' picks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from mediagen import backends
from mediagen.backends.offline import OfflineBackend
from mediagen.errors import ConfigurationError
from mediagen.settings import Settings
from tests.support.backends import CountingBackend, register_fakes
from tests.support.gemini import make_request

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry() -> Iterator[None]:
    """The registry as it was before the test, afterwards."""
    saved, hints = dict(backends.BUILTIN_BACKENDS), dict(backends.INSTALL_HINTS)
    yield
    backends.BUILTIN_BACKENDS.clear()
    backends.BUILTIN_BACKENDS.update(saved)
    backends.INSTALL_HINTS.clear()
    backends.INSTALL_HINTS.update(hints)


class OtherBackend(OfflineBackend):
    name = "other"


class NeedsAMissingPackage(OfflineBackend):
    name = "needy"
    requires: ClassVar[tuple[str, ...]] = ("not_installed_sdk_pkg.client",)


def test_the_builtins_are_registered_through_the_public_call() -> None:
    known = backends.available_backends()
    assert known["offline"] == "mediagen.backends.offline:OfflineBackend"
    assert list(known)[:2] == ["offline", "gemini"]  # 'auto' asks in this order


def test_a_name_is_never_replaced_by_accident(registry) -> None:
    backends.register_implementation("mine", CountingBackend)
    backends.register_implementation("mine", CountingBackend)  # the same again: fine
    backends.register_implementation("mine", "tests.support.backends.CountingBackend")  # same
    with pytest.raises(ValueError, match=r"'mine' is already registered.*clobber=True"):
        backends.register_implementation("mine", OtherBackend)
    assert backends.get_backend_class("mine") is CountingBackend
    backends.register_implementation("mine", OtherBackend, clobber=True)
    assert backends.get_backend_class("mine") is OtherBackend
    with pytest.raises(ValueError, match="already registered"):
        backends.register_implementation("offline", OtherBackend)  # a built-in too
    with pytest.raises(TypeError, match="not a Backend subclass"):
        backends.register_implementation("path", Path)  # type: ignore[arg-type]


def test_a_path_is_imported_only_when_first_used(registry, tmp_path, monkeypatch) -> None:
    (tmp_path / "lazy_backend_mod.py").write_text(
        "from mediagen.backends.offline import OfflineBackend\n"
        "class LazyBackend(OfflineBackend):\n    name = 'lazy'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backends.register_implementation("lazy", "lazy_backend_mod.LazyBackend")
    assert "lazy_backend_mod" not in sys.modules
    assert backends.available_backends()["lazy"] == "lazy_backend_mod:LazyBackend"
    assert backends.get_backend_class("lazy").__name__ == "LazyBackend"
    assert "lazy_backend_mod" in sys.modules
    monkeypatch.delitem(sys.modules, "lazy_backend_mod")


def test_a_missing_sdk_gives_the_hint_given_at_registration(registry) -> None:
    backends.register_implementation("needy", NeedsAMissingPackage, hint="pip install needy")
    with pytest.raises(
        ConfigurationError, match=r"not_installed_sdk_pkg.client.*pip install needy"
    ):
        backends.get_backend_class("needy")
    # ...and it is left out of what the core asks every backend, instead of failing it.
    assert backends.resolve_backend_name(None, Settings(backend="auto", _env_file=None))


def test_preload_imports_a_backend_and_the_sdk_it_requires(registry, tmp_path, monkeypatch) -> None:
    # ``mediagen run`` preloads while its local Prefect API starts (bench/startup.py).
    (tmp_path / "preload_sdk_mod.py").write_text("LOADED = True\n")
    (tmp_path / "preload_backend_mod.py").write_text(
        "from mediagen.backends.offline import OfflineBackend\n"
        "class PreloadBackend(OfflineBackend):\n"
        "    name = 'preloaded'\n"
        "    requires = ('preload_sdk_mod',)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    backends.register_implementation("preloaded", "preload_backend_mod.PreloadBackend")
    backends.register_implementation("needy", NeedsAMissingPackage, hint="pip install needy")
    try:
        # a backend that cannot load is left for the run to report, where it has context
        backends.preload(["preloaded", "needy", "not-a-backend", "preloaded"])
        assert {"preload_backend_mod", "preload_sdk_mod"} <= set(sys.modules)
    finally:
        for name in ("preload_backend_mod", "preload_sdk_mod"):
            sys.modules.pop(name, None)


def test_builtin_offline_resolves_lazily() -> None:
    assert backends.get_backend_class("offline") is OfflineBackend


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown backend 'nope'.*offline"):
        backends.get_backend_class("nope")


def test_missing_dependency_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BUILTIN_BACKENDS, "ghost", "not_installed_pkg.mod:Ghost")
    monkeypatch.setitem(backends.INSTALL_HINTS, "ghost", "pip install ghost-backend")
    with pytest.raises(ConfigurationError, match="pip install ghost-backend") as info:
        backends.get_backend_class("ghost")
    assert isinstance(info.value.__cause__, ImportError)


def test_plugins_come_in_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "demo_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{backends.ENTRY_POINT_GROUP}]\ndemo = tests.support.backends:CountingBackend\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert backends.available_backends()["demo"] == "tests.support.backends:CountingBackend"
    assert backends.get_backend_class("demo").__name__ == "CountingBackend"
    assert "tests.support.backends" in sys.modules


def test_a_plugin_that_is_not_a_backend_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(backends.BUILTIN_BACKENDS, "wrong", "pathlib:Path")
    with pytest.raises(ConfigurationError, match="not a Backend subclass"):
        backends.get_backend_class("wrong")


def test_auto_picks_offline_without_a_key_and_gemini_with_one(workspace) -> None:
    assert (
        backends.resolve_backend_name(None, Settings(backend="auto", _env_file=None)) == "offline"
    )
    keyed = Settings(backend="auto", _env_file=None).with_backend_options(
        "gemini", {"api_key": "k"}
    )
    assert backends.resolve_backend_name(None, keyed) == "gemini"
    assert backends.resolve_backend_name("offline", keyed) == "offline"


def test_facts_need_no_sdk_but_running_does(registry) -> None:
    class Catalogued(NeedsAMissingPackage):
        needs_key = True

        @classmethod
        def check_request(cls, request):  # type: ignore[no-untyped-def]
            return "kv-old was shut down" if request.model == "kv-old" else None

        @classmethod
        def has_key(cls, settings):  # type: ignore[no-untyped-def]
            return True

    backends.register_implementation("catalogued", Catalogued)

    # 'auto' never picks a backend whose SDK is missing, even with a key...
    settings = Settings(backend="auto", _env_file=None)
    assert backends.resolve_backend_name(None, settings) != "catalogued"
    # ...but what it knows about its models still holds for the offline stand-in.
    assert backends.request_problem(make_request(model="kv-old"), besides="offline") == (
        "kv-old was shut down"
    )


def test_asking_the_backends_imports_no_sdk(tmp_path: Path) -> None:
    """'auto', prices, catalogues and model checks are answered without google-genai
    (seconds to import): it is imported when a backend instance is built."""
    code = (
        "import sys\n"
        "from mediagen import backends\n"
        "from mediagen.settings import Settings\n"
        "s = Settings(backend='auto', _env_file=None)\n"
        "assert backends.resolve_backend_name(None, s) == 'offline'\n"
        "assert backends.catalogues(s) and backends.retry_window(s) > 0\n"
        "gemini = backends.get_backend_class('gemini')\n"
        "assert gemini.check_request(__import__('tests.support.gemini').support.gemini"
        ".make_request(model='imagen-3.0'))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('google.genai'))\n"
        "assert not loaded, loaded\n"
    )
    env = {k: v for k, v in os.environ.items() if "API_KEY" not in k}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_test_fakes_register_through_the_public_call(registry) -> None:
    register_fakes()
    register_fakes()  # again: the same implementations, no error
    backends.register_implementation("counting", "tests.support.backends.CountingBackend")
    assert backends.get_backend_class("counting") is CountingBackend
    assert backends.get_backend_class("solid").default_model == "solid-1"
