"""Per-user cache folders for compiled templates and parsed rule files.

The folders live under $MAILDIAG_CACHE_DIR, or $XDG_CACHE_HOME/maildiag, by default
~/.cache/maildiag, as Jinja2's FileSystemBytecodeCache keeps its files per user. Entries
are marshal data, which can hold code that maildiag runs, so a folder that another user
owns or can write is not used. A cache that cannot be used (no home folder, a read-only
home) only costs the work it would have saved.
"""

import logging
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_ENV = "MAILDIAG_CACHE_DIR"


def cache_folder(name: str) -> Path | None:
    """Return the cache folder `name`, creating it, or None when it cannot be used safely."""
    configured = os.environ.get(CACHE_ENV)
    xdg_cache = os.environ.get("XDG_CACHE_HOME")
    if configured:
        base = Path(configured)
    elif xdg_cache and Path(xdg_cache).is_absolute():
        # The XDG Base Directory Specification treats a relative path here as invalid.
        base = Path(xdg_cache) / "maildiag"
    else:
        try:
            base = Path.home() / ".cache" / "maildiag"
        except RuntimeError as error:
            # Path.home() raises when neither $HOME nor the password database names a home.
            log.debug("%s cache not used: %s", name, error)
            return None
    folder = base / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except OSError as error:
        log.debug("%s cache %s not usable: %s", name, folder, error)
        return None
    # Cached code is executed, so only a folder that no other user can write is trusted.
    if hasattr(os, "getuid") and (status.st_uid != os.getuid() or status.st_mode & 0o022):
        log.debug("%s cache %s ignored: owned by another user or writable by others", name, folder)
        return None
    return folder


def read_entry(name: str, key: str) -> Any | None:
    """Return the value stored under `key` in the cache folder `name`, or None."""
    folder = cache_folder(name)
    if folder is None:
        return None
    try:
        return marshal.loads((folder / key).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError, TypeError) as error:
        log.debug("%s cache entry %s unreadable, building again: %s", name, key, error)
        return None


def write_entry(name: str, key: str, value: Any) -> None:
    """Store `value` under `key` in the cache folder `name`; log and go on when that fails.

    Raises ValueError when marshal cannot store the value.
    """
    data = marshal.dumps(value)
    folder = cache_folder(name)
    if folder is None:
        return
    try:
        # Write to a temporary name and rename, so a concurrent run never reads half a file.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    except OSError as error:
        log.debug("%s cache entry %s not written: %s", name, key, error)
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, folder / key)
    except OSError as error:
        log.debug("%s cache entry %s not written: %s", name, key, error)
        Path(temporary).unlink(missing_ok=True)
