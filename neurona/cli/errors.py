"""Which exceptions are the user's to fix, and the one line that says so; everything else is a bug of ours."""
from __future__ import annotations

import errno

from .output import CLIError

__all__ = ["describe", "describe_os_error"]

# file-system conditions a user (or their machine) causes and can remedy, with what to do
_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space, or write elsewhere",
    errno.EDQUOT: "disk quota exceeded: free some space, or write elsewhere",
    errno.EROFS: "read-only file system: write elsewhere (e.g. --out <folder>)",
    errno.EACCES: "permission denied: write elsewhere, or change the folder's permissions",
    errno.EPERM: "operation not permitted: write elsewhere, or change the folder's permissions",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many levels of symbolic links",
    errno.EFBIG: "the file would be larger than the file system allows",
    errno.EIO: "input/output error: the disk or the file system failed",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files on this machine",
    errno.ENXIO: "no such device",
    errno.EBUSY: "device or resource busy",
    errno.ETXTBSY: "text file busy",
    errno.EADDRINUSE: "the address is already in use: choose another port",
    errno.EADDRNOTAVAIL: "this address is not one of this computer's",
}


def describe(exc: BaseException) -> str | None:
    """The one-line message for an exception the user caused, or None when it is a bug of ours."""
    from ..data import DataError, DatasetNotFoundError
    from ..io import ModelFileError
    from ..models.registry import UnknownModelError

    if isinstance(exc, (CLIError, ModelFileError, DataError, DatasetNotFoundError, UnknownModelError)):
        return str(exc)
    if isinstance(exc, ImportError) and exc.name is None and "pip install" in str(exc):
        return str(exc)  # an optional extra is missing; the message says how to install it
    if isinstance(exc, OSError):
        return describe_os_error(exc)
    if isinstance(exc, MemoryError):
        return ("ran out of memory" + (f" ({exc})" if str(exc) else "") + "; try a smaller --batch-size, a smaller "
                "model or less data")
    return None


def describe_os_error(exc: OSError) -> str | None:
    """``<file>: <what happened and what to do>`` for a file-system condition, or None for another OSError."""
    if exc.errno not in _OS_ADVICE:
        return None
    where = exc.filename
    if exc.filename2 is not None:
        where = f"{exc.filename} -> {exc.filename2}"
    return f"{where}: {_OS_ADVICE[exc.errno]}" if where is not None else _OS_ADVICE[exc.errno]


