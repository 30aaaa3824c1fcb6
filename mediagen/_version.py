"""mediagen's version, read once from the installed package's metadata.

``pyproject.toml`` is the one place the version is written; everything else
(``mediagen.__version__``, the XMP ``CreatorTool`` of every file) reads it here.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mediagen")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# The software named in every published file's XMP (xmp:CreatorTool) and sidecar.
GENERATOR = f"mediagen {__version__}"

__all__ = ["GENERATOR", "__version__"]
