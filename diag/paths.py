"""Locate the rules/ and reports/ folders, in an installed wheel or in the source tree."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(name: str) -> Path:
    """Return the folder `name` ("rules" or "reports") as a filesystem path."""
    # A wheel carries the folders as diag/_data/<name> (see pyproject.toml).
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name
