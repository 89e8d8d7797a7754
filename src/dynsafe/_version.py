"""The installed version of dynsafe."""

from importlib import metadata

try:
    __version__ = metadata.version("dynsafe")
except (
    metadata.PackageNotFoundError
):  # running from a source tree that is not installed
    __version__ = "0.0.0"
