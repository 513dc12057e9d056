"""Reading IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension,
then the values in C order, big-endian:

    byte 0-1  zero
    byte 2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
              0x0D float32, 0x0E float64
    byte 3    number of dimensions

so labels (1-D uint8) start with 0x00000801 = 2049 and images (3-D uint8)
with 0x00000803 = 2051. Files may be gzip-compressed (``.gz``).
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(ValueError):
    """An IDX file is truncated, corrupt or not what was expected."""


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # not gzip: a plain IDX file, whatever its name
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as e:
        raise IDXError(f"{path}: the gzip stream is truncated ({len(raw)} bytes on disk); "
                       f"the file is incomplete, download or copy it again") from e
    except (OSError, zlib.error) as e:
        raise IDXError(f"{path}: corrupt gzip data ({e}); download or copy the file again") from e


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a native-endian ndarray.

    ``expected_magic`` (2049 for labels, 2051 for images) checks the file
    holds what the caller wants. Truncated or corrupt files raise
    :class:`IDXError` naming the file and what is wrong.
    """
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise IDXError(f"{path}: {len(buf)} bytes, too short to be an IDX file (the header alone is 4+ bytes)")
    zero, code, ndim = buf[0:2], buf[2], buf[3]
    magic = int.from_bytes(buf[:4], "big")
    if zero != b"\x00\x00" or code not in IDX_DTYPES:
        raise IDXError(f"{path}: not an IDX file (magic number 0x{magic:08X}; expected 0x0000TTDD with type "
                       f"TT in {', '.join(f'0x{c:02X}' for c in IDX_DTYPES)})")
    if expected_magic is not None and magic != expected_magic:
        raise IDXError(f"{path}: magic number {magic} (0x{magic:08X}), expected {expected_magic} "
                       f"(0x{expected_magic:08X}); is this the right file?")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"{path}: truncated header: {ndim} dimensions need {header} bytes, the file has {len(buf)}")
    shape = tuple(int.from_bytes(buf[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    dtype = np.dtype(IDX_DTYPES[code])
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(buf) - header
    if have < need:
        raise IDXError(f"{path}: truncated: shape {shape} of {dtype.name} needs {need} bytes of data, "
                       f"found {have}; download or copy the file again")
    if have > need:
        raise IDXError(f"{path}: {have - need} unexpected bytes after the data of shape {shape}; the file is corrupt")
    data = np.frombuffer(buf, dtype=dtype, count=need // dtype.itemsize, offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)
