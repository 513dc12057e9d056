"""Property-based fuzzing of every reader of untrusted files: model files, checkpoints, CSV, NPZ and images.

Each example writes bytes to a fresh folder — random bytes, a valid file
truncated or with bits flipped, an archive whose headers declare huge shapes
or sizes — and reads it. Properties: the reader either succeeds or raises
its own error type (ModelFileError, DataError); its memory stays bounded
(traced allocations under 64 MiB, though some examples declare terabytes);
and it writes nothing.
"""
from __future__ import annotations

import io as pyio
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neurona
from neurona import io, optim
from neurona.data import DataError, load_csv, load_npz, npz_names, read_feature_rows
from neurona.models import MLP

PEAK = 64 * 1024 ** 2


def _valid_model_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        neurona.manual_seed(0)
        path = io.save(MLP(6, [5], 3), Path(d) / "m.npz", dataset="x", class_names=["a", "b", "c"])
        return path.read_bytes()


def _valid_checkpoint_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        neurona.manual_seed(0)
        model = MLP(6, [5], 3)
        opt = optim.Adam(model.parameters(), lr=0.01)
        (model(neurona.randn(4, 6)) ** 2).sum().backward()
        opt.step()
        path = io.save_checkpoint(Path(d) / "c.npz", model, opt, epoch=3)
        return path.read_bytes()


def _npy(shape, dtype="<f4", body: bytes = b"") -> bytes:
    """A .npy file whose header declares ``shape`` and ``dtype``, followed by ``body`` (whatever its size)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def _zip(members: dict[str, bytes], deflate: bool = False) -> bytes:
    buf = pyio.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _declare_size(data: bytes, size: int) -> bytes:
    """The archive with every entry's uncompressed size rewritten to ``size`` (local and central headers)."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = out.find(sig)
        while i != -1:
            out[i + offset:i + offset + 4] = struct.pack("<I", size & 0xFFFFFFFF)
            i = out.find(sig, i + 4)
    return bytes(out)


MODEL = _valid_model_bytes()
CHECKPOINT = _valid_checkpoint_bytes()


def _mutations(valid: bytes):
    """A valid file cut short, with bytes changed, or both."""
    flips = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(1, 255)), min_size=1, max_size=8)

    def flip(data: bytes, changes) -> bytes:
        out = bytearray(data)
        for i, x in changes:
            if i < len(out):
                out[i] ^= x
        return bytes(out)

    cut = st.integers(0, len(valid) - 1).map(lambda n: valid[:n])
    flipped = flips.map(lambda ch: flip(valid, ch))
    both = st.tuples(st.integers(1, len(valid)), flips).map(lambda a: flip(valid[:a[0]], a[1]))
    return st.one_of(cut, flipped, both)


huge_shapes = st.lists(st.integers(0, 2 ** 40), min_size=1, max_size=4)
dtypes = st.sampled_from(["<f4", "<f8", "<i8", "|u1", "|O", "<U10", "|V8", ">f4"])


@st.composite
def hostile_archives(draw):
    """Archives that lie: arrays declaring huge or odd shapes, entries declaring sizes they do not hold."""
    shape = draw(huge_shapes)
    dtype = draw(dtypes)
    body = draw(st.binary(max_size=64))
    members = {draw(st.sampled_from(["x.npy", "y.npy", "__header__.npy", "weights/a.npy"])): _npy(shape, dtype, body)}
    if draw(st.booleans()):
        members["y.npy"] = _npy((len(body),), "|u1", body)
    data = _zip(members, deflate=draw(st.booleans()))
    if draw(st.booleans()):
        data = _declare_size(data, draw(st.integers(0, 2 ** 32 - 1)))
    return data


def _read(data: bytes, name: str, reader, allowed: tuple):
    """Write ``data`` to a fresh folder, read it with bounded memory, check that nothing else was written."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(data)
        tracemalloc.start()
        try:
            reader(path)
        except allowed:
            pass
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < PEAK, f"{peak / 2 ** 20:.0f} MiB allocated reading {len(data)} bytes"
        assert [p.name for p in Path(d).iterdir()] == [name]


def _load_checkpoint(path):
    neurona.manual_seed(0)
    model = MLP(6, [5], 3)
    io.load_checkpoint(path, model=model, optimizer=optim.Adam(model.parameters(), lr=0.01), restore_rng=False)


# --- model files and checkpoints ----------------------------------------------------------------------


@given(st.one_of(st.binary(max_size=2048), _mutations(MODEL), hostile_archives()))
def test_model_file_reader(data):
    _read(data, "m.npz", io.read_model_file, io.ModelFileError)


@given(st.one_of(_mutations(MODEL), hostile_archives()))
def test_model_loading_builds_nothing_wrong(data):
    _read(data, "m.npz", io.load, io.ModelFileError)


@given(st.one_of(st.binary(max_size=2048), _mutations(CHECKPOINT), hostile_archives()))
def test_checkpoint_reader(data):
    _read(data, "c.npz", _load_checkpoint, io.ModelFileError)


# --- data files -------------------------------------------------------------------------------------------

VALID_NPZ = _zip({"x.npy": _npy((3, 2), "<f4", np.arange(6, dtype="<f4").tobytes()),
                  "y.npy": _npy((3,), "<i8", np.arange(3, dtype="<i8").tobytes())}, deflate=True)


@given(st.one_of(st.binary(max_size=2048), _mutations(VALID_NPZ), hostile_archives()))
def test_npz_readers(data):
    _read(data, "d.npz", lambda p: (npz_names(p), load_npz(p)), DataError)


csv_text = st.text(alphabet=st.sampled_from(list("0123456789.,-+eE \n\r\t\"'abcNA;") + ["\x00", "é", "\ufeff"]),
                   max_size=400)
VALID_CSV = b"a,b,label\n1,2.5,x\n3,4,y\n5,6e-1,x\n"


@given(st.one_of(csv_text.map(lambda t: t.encode("utf-8")), st.binary(max_size=512), _mutations(VALID_CSV)))
def test_csv_readers(data):
    _read(data, "d.csv", lambda p: load_csv(p, target="label"), DataError)
    _read(data, "r.csv", lambda p: read_feature_rows(p, feature_names=["a", "b"]), DataError)


# --- images ---------------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    pil = pytest.importorskip("PIL.Image")
    buf = pyio.BytesIO()
    pil.fromarray((np.arange(width * height) % 251).astype(np.uint8).reshape(height, width)).save(buf, "PNG")
    return buf.getvalue()


def _png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is rewritten to declare another size (its CRC fixed, so it parses)."""
    import zlib

    data = bytearray(_png(4, 4))
    i = data.index(b"IHDR")
    data[i + 4:i + 12] = struct.pack(">II", width, height)
    data[i + 17:i + 21] = struct.pack(">I", zlib.crc32(bytes(data[i:i + 17])) & 0xFFFFFFFF)
    return bytes(data)


def test_image_reader():
    pytest.importorskip("PIL")
    from neurona.data import read_image

    valid = _png(12, 10)

    @given(st.one_of(st.binary(max_size=1024), _mutations(valid),
                     st.tuples(st.integers(0, 2 ** 31 - 1), st.integers(0, 2 ** 31 - 1))
                     .map(lambda wh: _png_declaring(*wh))))
    def check(data):
        _read(data, "i.png", read_image, DataError)

    check()
