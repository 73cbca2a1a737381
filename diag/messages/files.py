"""Read an input file whole, turning OS errors into one-line InputErrors."""

from diag.errors import InputError


def read_file(path: str) -> bytes:
    """Return the contents of `path`. Raises InputError naming the path and the cause."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied; check the file's permissions") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a message file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
