"""Registry of image backends: a name maps to a class, or lazily to its import path.

Modelled on fsspec's ``registry``: :func:`register_implementation` adds a
backend under a name, as a class or as ``"package.module.Class"`` (also
``"package.module:Class"``), imported only when first asked for, so a
missing optional dependency costs nothing until that backend is used, and
then fails with an install hint. A name is never replaced by accident: only
``clobber=True`` replaces another implementation. The built-in backends are
registered through the same call as everybody else's, and third-party
packages add theirs through the ``mediagen.backends`` entry-point group::

    [project.entry-points."mediagen.backends"]
    mybackend = "my_package.backend:MyBackend"

The core never names a provider: it asks the backends (see
:class:`~mediagen.backends.base.Backend`): which one ``auto`` picks
(:func:`resolve_backend_name`), what to redact (:func:`configured_secrets`),
how long a request may wait (:func:`retry_window`), and the model catalogues
(:func:`catalogues`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from mediagen.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    ModelCatalogue,
    ReferenceImage,
)
from mediagen.errors import ConfigurationError

if TYPE_CHECKING:
    from mediagen.settings import Settings

logger = logging.getLogger("mediagen")

ENTRY_POINT_GROUP = "mediagen.backends"

# name → class, or its import path (imported on first use). Mutable through
# register_implementation only; kept under its old name for tests that patch it.
_registry: dict[str, str | type[Backend]] = {}
BUILTIN_BACKENDS = _registry
# name → what to install when its import fails
INSTALL_HINTS: dict[str, str] = {}

__all__ = [
    "BUILTIN_BACKENDS",
    "ENTRY_POINT_GROUP",
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "ModelCatalogue",
    "ReferenceImage",
    "available_backends",
    "catalogues",
    "configured_secrets",
    "get_backend_class",
    "preload",
    "register_implementation",
    "request_problem",
    "resolve_backend_name",
    "retry_window",
]


def register_implementation(
    name: str, cls: str | type[Backend], clobber: bool = False, hint: str | None = None
) -> None:
    """Register a backend under ``name``: a :class:`Backend` subclass, or the import path
    of one (``"package.module.Class"``), imported when first used.

    Registering the same implementation again is a no-op; another one under a taken
    name raises ``ValueError`` unless ``clobber``. ``hint`` says what to install when
    the import fails.
    """
    if not isinstance(cls, str) and not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"backend {name!r}: {cls!r} is not a Backend subclass or an import path")
    existing = _registry.get(name)
    if existing is not None and not clobber and _path(existing) != _path(cls):
        raise ValueError(
            f"backend {name!r} is already registered ({_path(existing)}); "
            "pass clobber=True to replace it"
        )
    _registry[name] = cls
    if hint is not None:
        INSTALL_HINTS[name] = hint


def available_backends() -> dict[str, str]:
    """Every known backend name and its import path (registered first, then plugins)."""
    found = {name: _path(cls) for name, cls in _registry.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered under ``name``."""
    cls = _load(name)
    for module in cls.requires:  # installed? (checked without importing it)
        if not _installed(module):
            hint = INSTALL_HINTS.get(name, f"install the package that provides {module}")
            raise ConfigurationError(
                f"backend {name!r} needs a package that is not installed ({module}): {hint}"
            )
    return cls


def _load(name: str) -> type[Backend]:
    """The class behind ``name`` (imported now if registered as a path)."""
    target = _registry.get(name)
    if target is None:  # not registered here: a plugin's entry point, or unknown
        target = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}.get(name)
    if target is None:
        raise ConfigurationError(
            f"unknown backend {name!r}; known backends: {', '.join(sorted(available_backends()))}"
        )
    if not isinstance(target, str):
        return target
    module_name, class_name = _split(target)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, f"install the package that provides {module_name}")
        raise ConfigurationError(
            f"backend {name!r} needs a package that is not installed ({exc.name or exc}): {hint}"
        ) from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigurationError(f"backend {name!r}: {target} is not a Backend subclass")
    return cls


def preload(names: Iterable[str]) -> None:
    """Import the backends ``names`` and the packages they require, now.

    ``mediagen run`` calls this while its local Prefect API starts, so the first
    image does not wait for its SDK's import (google-genai: ~0.4 s). Best effort:
    a backend that cannot load says why where it is used, not here.
    """
    for name in sorted(set(names)):
        try:
            for module in get_backend_class(name).requires:
                importlib.import_module(module)
        except Exception as exc:  # reported by the run itself, with its context
            logger.debug("not preloading backend %r: %s", name, exc)


def resolve_backend_name(requested: str | None, settings: Settings) -> str:
    """The backend a run will use: the spec's choice, the setting, or 'auto'.

    'auto' means the first backend (in registration order) that needs a key and
    has one, else the offline renderer (with one notice, so nobody mistakes
    placeholder art for AI).
    """
    name = requested or settings.backend
    if name != "auto":
        return name
    for candidate, cls in _classes():
        if cls.needs_key and cls.has_key(settings):
            return candidate
    if not _notice_given:
        _notice_given.append(True)
        wanted = "/".join(var for _, cls in _classes() for var in cls.key_env_vars)
        logger.warning(
            "No %s set: using the offline renderer (procedural placeholder art, not AI).",
            wanted or "backend key",
        )
    return "offline"


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret value the installed backends would use (for log redaction).

    A backend whose own settings are malformed is skipped: it cannot run, and a log
    formatter must not fail on it.
    """
    found = []
    for name, cls in _classes():
        try:
            found += [value for value in cls.secrets(settings) if value]
        except ConfigurationError as exc:
            logger.debug("backend %r has no usable settings: %s", name, exc)
    return found


def retry_window(settings: Settings) -> float:
    """The longest time any installed backend lets one request retry and wait
    (a backend whose own settings are malformed cannot run, and is left out)."""
    windows = [0.0]
    for name, cls in _classes():
        try:
            windows.append(cls.retry_window(settings))
        except ConfigurationError as exc:
            logger.debug("backend %r has no usable settings: %s", name, exc)
    return max(windows)


def catalogues(settings: Settings) -> list[tuple[str, ModelCatalogue]]:
    """(name, catalogue) of every registered backend that keeps one."""
    found = []
    for name, cls in _classes(installed_only=False):  # facts need no SDK
        catalogue = cls.catalogue(settings)
        if catalogue is not None:
            found.append((name, catalogue))
    return found


def request_problem(request: GenerationRequest, *, besides: str) -> str | None:
    """The first refusal of ``request`` by an installed keyed (AI) backend but ``besides``."""
    if not (request.model or request.fallback_models):
        return None
    for name, cls in _classes(installed_only=False):  # judging a model needs no SDK
        if name != besides and cls.needs_key:
            problem = cls.check_request(request)
            if problem:
                return problem
    return None


def _classes(installed_only: bool = True) -> list[tuple[str, type[Backend]]]:
    """The registered backends that load, in order (one that does not is skipped);
    ``installed_only``: also skip those whose ``requires`` are missing.

    Remembered while the registry and ``sys.path`` (where plugins are found) stay
    the same: a spec of 10,000 images asks once, not once per image.
    """
    key = (
        installed_only,
        tuple(sys.path),
        tuple((name, _path(cls)) for name, cls in _registry.items()),
    )
    if key in _loaded:
        return _loaded[key]
    out = []
    for name in available_backends():
        try:
            out.append((name, get_backend_class(name) if installed_only else _load(name)))
        except Exception as exc:  # not installed, or a broken plugin: not ours to fail on
            logger.debug("backend %r skipped: %s", name, exc)
    if len(_loaded) > 8:  # tests change sys.path and the registry often
        _loaded.clear()
    _loaded[key] = out
    return out


_loaded: dict[object, list[tuple[str, type[Backend]]]] = {}


def _split(path: str) -> tuple[str, str]:
    if ":" in path:
        module, _, name = path.partition(":")
    else:
        module, _, name = path.rpartition(".")
    return module, name


def _path(cls: str | type[Backend]) -> str:
    if isinstance(cls, str):
        return ":".join(_split(cls))
    return f"{cls.__module__}:{cls.__qualname__}"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # its parent package is missing
        return False


_notice_given: list[bool] = []

# The built-in backends come in through the same call as anybody else's.
register_implementation("offline", "mediagen.backends.offline.OfflineBackend")
register_implementation(
    "gemini",
    "mediagen.backends.gemini.backend.GeminiBackend",
    hint="pip install 'mediagen[gemini]'  (installs google-genai)",
)
