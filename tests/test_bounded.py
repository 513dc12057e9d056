"""Bounded reading (``neurona._bounded``): what a file declares is checked before anything is allocated or
decompressed — huge declared shapes, decompression bombs, FIFOs and devices."""
from __future__ import annotations

import os
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import neurona
from neurona import io
from neurona._bounded import BOMB_MIN_BYTES, BoundedNpz, open_regular
from neurona.data import DataError, load_npz, read_image
from neurona.models import MLP


def _npy(shape, dtype="<f4", body: bytes = b"") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body


def _bomb(path, nbytes: int, name: str = "x.npy"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(name, "w", force_zip64=True) as m:
            m.write(_npy((nbytes,), "|u1"))
            chunk = bytes(2 ** 20)
            for _ in range(nbytes // len(chunk)):
                m.write(chunk)
    return path


def _measure(fn):
    """(seconds, peak traced bytes, the exception raised) of fn()."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned to the test
        error = e
    else:
        error = None
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, error


def test_a_model_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    neurona.manual_seed(0)
    path = io.save(MLP(4, [3], 2), tmp_path / "m.npz")
    forged = tmp_path / "huge.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "weights/layers.0.weight.npy":  # 3.64 TiB declared, 48 bytes held
                data = _npy((10 ** 6, 10 ** 6), "<f4", data[128:])
            dst.writestr(info.filename, data)
    seconds, peak, error = _measure(lambda: io.load(forged))
    assert isinstance(error, io.ModelFileError)
    assert "declares shape (1000000, 1000000) of float32 (3.64 TiB) but holds 48 bytes" in str(error)
    assert peak < 2 ** 20 and seconds < 5


def test_a_decompression_bomb_is_refused_from_its_declared_sizes(tmp_path):
    bomb = _bomb(tmp_path / "bomb.npz", 2 * BOMB_MIN_BYTES)  # 128 MiB of zeros in about 130 KB
    assert bomb.stat().st_size < 2 ** 20
    for reader in (load_npz, io.read_model_file):
        seconds, peak, error = _measure(lambda: reader(bomb))
        assert isinstance(error, (DataError, io.ModelFileError)), error
        assert "refused as a decompression bomb" in str(error) and "128 MiB" in str(error)
        assert seconds < 1 and peak < 2 ** 20  # nothing decompressed


@pytest.mark.slow
def test_the_one_gigabyte_bomb_of_one_megabyte(tmp_path):
    bomb = _bomb(tmp_path / "bomb.npz", 2 ** 30)
    assert bomb.stat().st_size < 1.2 * 2 ** 20
    seconds, peak, error = _measure(lambda: io.read_model_file(bomb))
    assert "refused as a decompression bomb" in str(error) and seconds < 1 and peak < 2 ** 20


def test_the_ratio_rule_refuses_zeros_and_reads_real_data(tmp_path, monkeypatch):
    from neurona import _bounded

    monkeypatch.setattr(_bounded, "BOMB_MIN_BYTES", 64 * 1024)  # the rule at a small scale: a fast test
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(200_000,), dtype=np.uint8)  # deflates to about a quarter
    np.savez_compressed(tmp_path / "real.npz", x=x, y=rng.integers(0, 10, len(x), dtype=np.uint8))
    assert load_npz(tmp_path / "real.npz")[0].shape == x.shape
    np.savez_compressed(tmp_path / "zeros.npz", x=np.zeros(200_000, np.uint8), y=np.zeros(200_000, np.uint8))
    with pytest.raises(DataError, match="refused as a decompression bomb"):
        load_npz(tmp_path / "zeros.npz")


@pytest.mark.slow
def test_large_members_that_compress_modestly_are_read(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(BOMB_MIN_BYTES + 1000,), dtype=np.uint8)  # 64 MiB that deflate to about a quarter
    np.savez_compressed(tmp_path / "d.npz", x=x, y=rng.integers(0, 10, len(x), dtype=np.uint8))
    X, _ = load_npz(tmp_path / "d.npz")
    assert X.shape == x.shape


def test_the_byte_limit_is_documented_and_adjustable(tmp_path, monkeypatch):
    np.savez(tmp_path / "d.npz", x=np.zeros((1000, 10), np.float32), y=np.zeros(1000, np.int64))
    with pytest.raises(DataError, match=r"declares \d+\.\d KiB of content or more; at most 1000 bytes is read "
                                        r"\(NEURONA_MAX_FILE_BYTES raises the limit\)"):
        load_npz(tmp_path / "d.npz", max_bytes=1000)
    monkeypatch.setenv("NEURONA_MAX_FILE_BYTES", "2000")
    with pytest.raises(DataError, match="at most 1.95 KiB"):
        load_npz(tmp_path / "d.npz")
    monkeypatch.delenv("NEURONA_MAX_FILE_BYTES")
    assert load_npz(tmp_path / "d.npz")[0].shape == (1000, 10)


def test_an_entry_declaring_more_than_it_holds(tmp_path):
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as zf:
        zf.writestr("x.npy", _npy((1000,), "<f8", b"\x00" * 16))
    with pytest.raises(DataError, match=r"entry 'x' declares shape \(1000,\) of float64 \(7.81 KiB\) but holds "
                                        r"16 bytes"):
        load_npz(tmp_path / "lie.npz", y=None)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    (tmp_path / "link.npz").symlink_to(tmp_path / "pipe.npz")
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    cases = {"pipe.npz": "is a FIFO (named pipe), not a regular file",
             "link.npz": "is a FIFO (named pipe) (through a symbolic link)",
             "zero.npz": "is a character device (through a symbolic link)"}
    for name, message in cases.items():
        start = time.perf_counter()
        with pytest.raises(io.ModelFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
            io.load(tmp_path / name)
        with pytest.raises(DataError, match="not a regular file"):
            load_npz(tmp_path / name)
        assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match="is a folder"):
        open_regular(tmp_path, lambda p, m: ValueError(f"{p}: {m}"))


def test_bounded_npz_lists_members_without_reading_them(tmp_path):
    np.savez(tmp_path / "d.npz", a=np.arange(6.0).reshape(2, 3), b=np.array([1, 2], np.int8))
    with BoundedNpz(tmp_path / "d.npz", lambda p, m: ValueError(m)) as z:
        assert z.names == ["a", "b"]
        assert z.member("a").shape == (2, 3) and z.member("a").nbytes == 48
        np.testing.assert_array_equal(z.read("b"), [1, 2])


def test_images_declaring_too_many_pixels_are_refused_before_decoding(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    pil.fromarray(np.zeros((300, 400), np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(DataError, match=r"declares an image of 400×300 = 120,000 pixels; at most 100,000"):
        read_image(tmp_path / "big.png", max_pixels=100_000)
    assert read_image(tmp_path / "big.png").shape == (300, 400)


def test_image_modes_become_grey_in_0_1(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    pil.fromarray(grey).save(tmp_path / "l.png")
    np.testing.assert_allclose(read_image(tmp_path / "l.png"), grey / 255, atol=1e-7)
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    pil.fromarray(deep).save(tmp_path / "i16.png")
    np.testing.assert_allclose(read_image(tmp_path / "i16.png"), deep / 65535, atol=1e-6)
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 1] = 255
    pil.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgb.png"), 0.587, atol=1e-6)
    pil.fromarray(np.dstack([rgb, np.full((8, 8), 7, np.uint8)])).save(tmp_path / "rgba.png")  # alpha ignored
    np.testing.assert_allclose(read_image(tmp_path / "rgba.png"), 0.587, atol=1e-6)
    pil.fromarray(grey).save(tmp_path / "g.jpg", quality=100)
    assert read_image(tmp_path / "g.jpg").dtype == np.float32
