"""Bounded reading of files that may be damaged or hostile: model files, checkpoints, NPZ, CSV and images.

Every reader checks what a file declares before it allocates or decompresses
anything:

- the path must name a regular file: a FIFO, a device or a folder (directly
  or through a symlink) is refused, and opening never blocks;
- an ``.npz`` archive lists each member's stored and uncompressed size; each
  member's ``.npy`` header gives its shape and dtype, and
  ``shape × itemsize`` must be exactly what the member holds, so no array
  larger than its content is ever allocated; the arrays together may hold
  at most :data:`MAX_BYTES`; a member over :data:`BOMB_MIN_BYTES` that
  decompresses to more than :data:`MAX_RATIO` times its stored size is
  refused as a decompression bomb;
- a text file (CSV) may be at most :data:`MAX_TEXT_BYTES`;
- an image may have at most :data:`MAX_IMAGE_PIXELS`, read from its header
  before the pixels are decoded.

``NEURONA_MAX_FILE_BYTES`` (bytes) raises or lowers :data:`MAX_BYTES` and
:data:`MAX_TEXT_BYTES` for one process. The readers take an ``error`` class
``error(path, problem)`` (``neurona.io.ModelFileError`` or a data error) so
that each reports in its own terms.
"""
from __future__ import annotations

import math
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

MAX_BYTES = 4 * 1024 ** 3          # array content of one file
MAX_TEXT_BYTES = 512 * 1024 ** 2   # one CSV file (parsed into Python objects, several times its size in memory)
MAX_IMAGE_PIXELS = 64 * 1024 ** 2  # one image (Pillow itself warns above ~89 million)
MAX_RATIO = 200                    # uncompressed / stored size of one large member
BOMB_MIN_BYTES = 64 * 1024 ** 2    # members smaller than this may compress as well as they like
MAX_MEMBERS = 100_000

Error = Callable[[object, str], Exception]

# what damaged or forged bytes make the zip, zlib and .npy parsers raise
_DAMAGED = (ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, NotImplementedError, KeyError,
            TypeError, SyntaxError, RecursionError, OverflowError, MemoryError, zlib.error, struct.error)


def max_bytes(default: int = MAX_BYTES) -> int:
    """The byte limit in force: ``NEURONA_MAX_FILE_BYTES`` when set, else ``default``."""
    env = os.environ.get("NEURONA_MAX_FILE_BYTES")
    if env:
        try:
            return max(int(float(env)), 0)
        except ValueError:
            pass
    return default


def human(n: float) -> str:
    """A byte count for messages: 3.6 TiB, 512 MiB, 12 KiB, 80 bytes."""
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def open_regular(path, error: Error):
    """Open ``path`` for binary reading, refusing anything but a regular file (symlinks are followed).

    ``O_NONBLOCK`` keeps the open of a FIFO from waiting for a writer; the
    kind of file is then read from the open descriptor, so it is the file
    that will be read that is checked.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise error(path, "is a folder, not a file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            link = " (through a symbolic link)" if os.path.islink(path) else ""
            raise error(path, f"is {kind}{link}, not a regular file; refusing to read it")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True)
class Member:
    """One array of an .npz archive, as its headers declare it."""

    name: str          # the key, without ".npy"
    shape: tuple
    dtype: np.dtype
    info: zipfile.ZipInfo

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class BoundedNpz:
    """An ``.npz`` archive read within limits: sizes checked on opening, each member's header before its data.

    >>> with BoundedNpz("data.npz", ValueError) as z:
    ...     z.names                         # the arrays, without reading any
    ...     z.member("x").shape             # its .npy header, checked against the archive's sizes
    ...     x = z.read("x")

    ``what`` names the kind of file in messages ("a neurona model file").
    """

    def __init__(self, path, error: Error, limit: int | None = None, what: str = "an .npz archive"):
        self.path = Path(path)
        self.error = error
        self.what = what
        self.limit = max_bytes() if limit is None else int(limit)
        self._members: dict[str, Member] = {}
        self._file = open_regular(path, error)
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _fail(self, problem: str):
        raise self.error(self.path, problem)

    def _open(self) -> None:
        head = self._file.read(6)
        self._file.seek(0)
        if not head.startswith(b"PK"):
            if head[:1] == b"\x80":  # the opcode that starts a pickle stream (protocol 2 and later)
                self._fail("holds pickled Python objects; neurona never loads pickle (it can run arbitrary code)")
            if head.startswith(b"\x93NUMPY"):
                self._fail(f"is a single .npy array, not {self.what} (an .npz archive of named arrays)")
            self._fail(f"not {self.what} (not an .npz archive)" + (" — the file is empty" if not head else ""))
        try:
            self._zip = zipfile.ZipFile(self._file)
            infos = self._zip.infolist()
        except _DAMAGED as e:
            self._fail(f"truncated or corrupted archive ({type(e).__name__}: {e})")
        if len(infos) > MAX_MEMBERS:
            self._fail(f"holds {len(infos):,} entries; at most {MAX_MEMBERS:,} are read")
        size = os.fstat(self._file.fileno()).st_size
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            total += self._check_sizes(info, size)
            if total > self.limit:
                self._fail(f"declares {human(total)} of content or more; at most {human(self.limit)} is read "
                           f"(NEURONA_MAX_FILE_BYTES raises the limit)")
            if not info.filename.endswith(".npy"):
                self._fail(f"entry {info.filename!r} is not a .npy array")
            self._infos[info.filename[:-4]] = info

    @property
    def names(self) -> list[str]:
        """The arrays' names (the entries without ``.npy``), in the archive's order."""
        return list(self._infos)

    def _check_sizes(self, info: zipfile.ZipInfo, size: int) -> int:
        name = info.filename
        if info.flag_bits & 0x1:
            self._fail(f"entry {name!r} is encrypted; neurona reads plain archives only")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self._fail(f"entry {name!r} uses compression method {info.compress_type}; only stored and deflated "
                       f"entries are read")
        if info.compress_size > size:
            self._fail(f"truncated or corrupted archive: entry {name!r} claims {human(info.compress_size)} stored "
                       f"in a file of {human(size)}")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            self._fail(f"corrupted archive: entry {name!r} is stored uncompressed but its sizes differ")
        if info.file_size > BOMB_MIN_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            self._fail(f"entry {name!r} would decompress from {human(info.compress_size)} to "
                       f"{human(info.file_size)} ({info.file_size / max(info.compress_size, 1):,.0f} times): refused "
                       f"as a decompression bomb")
        return info.file_size

    def member(self, key: str) -> Member:
        """The declared shape and dtype of array ``key``, checked against what its entry holds."""
        if key in self._members:
            return self._members[key]
        info = self._infos[key]
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                shape, fortran, dtype = _read_npy_header(f, version)
                offset = f.tell()
        except _DAMAGED as e:
            self._fail(f"entry {key!r} has no valid .npy header ({type(e).__name__}: {e})")
        if any(s < 0 for s in shape):
            self._fail(f"entry {key!r} declares the negative shape {tuple(shape)}")
        if dtype.hasobject:
            self._fail(f"entry {key!r} holds pickled Python objects; neurona never loads pickle (it can run "
                       f"arbitrary code)")
        m = Member(key, tuple(int(s) for s in shape), dtype, info)
        if offset + m.nbytes != info.file_size:
            self._fail(f"entry {key!r} declares shape {m.shape} of {dtype} ({human(m.nbytes)}) but holds "
                       f"{human(max(info.file_size - offset, 0))}: truncated or corrupted")
        self._members[key] = m
        return m

    def read(self, key: str) -> np.ndarray:
        """The array ``key``: exactly its declared shape and dtype, or the reader's error."""
        m = self.member(key)
        try:
            with self._zip.open(m.info) as f:
                a = np.lib.format.read_array(f, allow_pickle=False)
        except _DAMAGED as e:
            self._fail(f"truncated or corrupted file: cannot read entry {key!r} ({type(e).__name__}: {e})")
        return a

    def close(self) -> None:
        z = getattr(self, "_zip", None)
        if z is not None:
            z.close()
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _read_npy_header(f, version):
    # format 3.0 differs from 2.0 only in allowing UTF-8 field names, which numeric arrays do not have
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def open_text(path, error: Error, limit: int | None = None):
    """Open the regular file ``path`` as UTF-8 text for the csv module, refused above the text limit."""
    import io

    limit = max_bytes(MAX_TEXT_BYTES) if limit is None else limit
    f = open_regular(path, error)
    try:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise error(path, f"is {human(size)}; CSV files are read up to {human(limit)} (store larger data as "
                              f".npz, or raise NEURONA_MAX_FILE_BYTES)")
        return io.TextIOWrapper(f, encoding="utf-8-sig", newline="")  # -sig: drop the BOM spreadsheets write
    except BaseException:
        f.close()
        raise
