import gzip
import hashlib
import io
import struct
import urllib.error
import warnings

import numpy as np
import pytest

import neurona.data.fashion as fm
from neurona.data import (CLASSES, DataLoader, DatasetNotFoundError, EmbeddedSubsetWarning, FashionMNIST, IDXError,
                          fashion_mnist, fashion_mnist_small, read_idx)

pytestmark = pytest.mark.filterwarnings("ignore:Fashion-MNIST '")  # synthetic splits are smaller than the real ones


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file written by hand: magic 0x0000TTDD, big-endian dims, big-endian data."""
    head = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    big = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return head + array.astype(big).tobytes()


def write_split(folder, split="train", n=20, gz=True, label_offset=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n + label_offset)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = ((np.arange(n) + label_offset) % 10).astype(np.uint8)
    for name, arr in zip(fm.FILES[split], (images, labels)):
        data = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels.astype(np.int64)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Every search place points into tmp_path, and the network is unreachable."""
    monkeypatch.delenv("NEURONA_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fm, "SYSTEM_DIR", tmp_path / "system")

    def offline(url, timeout=None):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(fm, "_urlopen", offline)
    return tmp_path


# --- IDX -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_plain_and_gzip(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(a)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path, expected_magic=2051)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, a)
    assert out.flags.writeable


@pytest.mark.parametrize("code,dtype", [(0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_big_endian_types(tmp_path, code, dtype):
    a = np.array([[-3, 1000], [7, 12345]], dtype=dtype)
    (tmp_path / "x").write_bytes(idx_bytes(a, code))
    out = read_idx(tmp_path / "x")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, a)


def test_read_idx_errors(tmp_path):
    a = np.zeros((3, 28, 28), dtype=np.uint8)
    good = idx_bytes(a)
    cases = {
        "short": (good[:3], "too short"),
        "magic": (b"\x12\x34" + good[2:], "not an IDX file"),
        "header": (good[:10], "truncated header"),
        "data": (good[:-5], "truncated"),
        "extra": (good + b"\x00\x00", "unexpected bytes"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(IDXError, match=message) as err:
            read_idx(path)
        assert name in str(err.value)  # the error names the file
    (tmp_path / "labels").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(IDXError, match="expected 2051"):
        read_idx(tmp_path / "labels", expected_magic=2051)


def test_truncated_and_corrupt_gzip(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(5000, dtype=np.uint8).reshape(5, 1000)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IDXError, match="truncated"):
        read_idx(tmp_path / "cut.gz")
    broken = bytearray(packed)
    broken[-6] ^= 0xFF  # inside the CRC32 trailer
    (tmp_path / "crc.gz").write_bytes(bytes(broken))
    with pytest.raises(IDXError, match="corrupt"):
        read_idx(tmp_path / "crc.gz")


# --- finding the files ----------------------------------------------------------------------------------------

def test_search_order_env_then_system_then_cache(places, monkeypatch):
    env_imgs, env_labels = write_split(places / "env" / "fashion-mnist", label_offset=1)
    sys_imgs, sys_labels = write_split(places / "system", label_offset=2, gz=False)
    cache_imgs, cache_labels = write_split(places / "home" / ".cache" / "neurona" / "fashion-mnist", label_offset=3)

    monkeypatch.setenv("NEURONA_DATA", str(places / "env"))
    x, y = fashion_mnist("train", download=False)
    np.testing.assert_array_equal(y, env_labels)
    np.testing.assert_array_equal(x, env_imgs)

    monkeypatch.delenv("NEURONA_DATA")
    x, y = fashion_mnist("train", download=False)
    np.testing.assert_array_equal(y, sys_labels)

    monkeypatch.setattr(fm, "SYSTEM_DIR", places / "nowhere")
    x, y = fashion_mnist("train", download=False)
    np.testing.assert_array_equal(y, cache_labels)
    assert x.dtype == np.uint8 and y.dtype == np.int64


def test_neurona_data_may_hold_the_files_directly_and_root_wins(places, monkeypatch):
    _, labels = write_split(places / "flat", split="test", label_offset=4)
    monkeypatch.setenv("NEURONA_DATA", str(places / "flat"))
    np.testing.assert_array_equal(fashion_mnist("test", download=False)[1], labels)
    _, root_labels = write_split(places / "mine", split="test", label_offset=5)
    np.testing.assert_array_equal(fashion_mnist("test", root=places / "mine", download=False)[1], root_labels)


def test_not_found_lists_every_place_and_the_fixes(places):
    with pytest.raises(DatasetNotFoundError) as err:
        fashion_mnist("train")
    msg = str(err.value)
    for expected in ("$NEURONA_DATA: not set", str(places / "system"), str(places / "home" / ".cache"),
                     "download from", "URLError", "apt-get install -y dataset-fashion-mnist", "NEURONA_DATA=",
                     "subset=True", "train-images-idx3-ubyte"):
        assert expected in msg, expected
    assert isinstance(err.value, FileNotFoundError)


def test_half_present_split_says_what_is_missing(places):
    write_split(places / "system")
    (places / "system" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"missing train-labels-idx1-ubyte\(\.gz\)"):
        fashion_mnist("train", download=False)


def test_fallback_to_embedded_warns(places):
    with pytest.warns(EmbeddedSubsetWarning, match="embedded subset"):
        x, y = fashion_mnist("test", fallback_to_embedded=True, download=False)
    assert x.shape == (1000, 28, 28)


def test_corrupt_file_is_reported_not_skipped(places):
    write_split(places / "system")
    path = places / "system" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz"):
        fashion_mnist("train", download=False)


# --- downloading (the URL opener is replaced) -----------------------------------------------------------------

def _serve(monkeypatch, files: dict[str, bytes], fix_md5=True):
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(fm, "_urlopen", fake_urlopen)
    if fix_md5:
        for name, content in files.items():
            monkeypatch.setitem(fm.MD5, name, hashlib.md5(content).hexdigest())
    return requested


def _split_gz(split, n=12):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    names = fm.FILES[split]
    return {names[0] + ".gz": gzip.compress(idx_bytes(images)), names[1] + ".gz": gzip.compress(idx_bytes(labels))}


def test_download_into_cache_with_checksum(places, monkeypatch):
    requested = _serve(monkeypatch, _split_gz("test"))
    x, y = fashion_mnist("test")
    assert x.shape == (12, 28, 28) and y.tolist() == [i % 10 for i in range(12)]
    assert all(u.startswith(fm.MIRROR) for u in requested) and len(requested) == 2
    cache = places / "home" / ".cache" / "neurona" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    fashion_mnist("test")  # now found in the cache: no new request
    assert len(requested) == 2


def test_download_checksum_mismatch_leaves_nothing(places, monkeypatch):
    _serve(monkeypatch, _split_gz("test"), fix_md5=False)  # the official MD5s cannot match synthetic files
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        fashion_mnist("test")
    cache = places / "home" / ".cache" / "neurona" / "fashion-mnist"
    assert list(cache.iterdir()) == []  # no partial or temporary file left behind


# --- the embedded subset and the Dataset class ----------------------------------------------------------------

def test_embedded_subset_shapes_balance_dtype():
    with pytest.warns(EmbeddedSubsetWarning):
        xtr, ytr = fashion_mnist_small("train")
    with pytest.warns(EmbeddedSubsetWarning):
        xte, yte = fashion_mnist("test", subset=True, as_float=True, layout="flat")
    assert xtr.shape == (3000, 28, 28) and xtr.dtype == np.uint8 and ytr.dtype == np.int64
    assert xte.shape == (1000, 784) and xte.dtype == np.float32 and 0.0 <= xte.min() and xte.max() <= 1.0
    assert np.bincount(ytr, minlength=10).tolist() == [300] * 10
    assert np.bincount(yte, minlength=10).tolist() == [100] * 10
    assert fm.EMBEDDED.stat().st_size < 3_000_000
    assert len(CLASSES) == 10 and CLASSES[9] == "Ankle boot"


def test_fashion_mnist_dataset_class_feeds_a_loader():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmbeddedSubsetWarning)
        ds = FashionMNIST("test", subset=True, layout="NCHW")
    assert len(ds) == 1000 and ds.classes == CLASSES
    xb, yb = next(iter(DataLoader(ds, batch_size=32, shuffle=True, seed=0)))
    assert xb.shape == (32, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64


def test_bad_split_and_layout():
    with pytest.raises(ValueError, match="split"):
        fashion_mnist("valid")
    with pytest.raises(ValueError, match="layout"):
        fashion_mnist("train", subset=True, layout="NHWC")


@pytest.mark.skipif(not (fm.SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="the real Fashion-MNIST files are not installed (apt-get install dataset-fashion-mnist)")
def test_real_test_split_and_embedded_provenance(monkeypatch):
    monkeypatch.delenv("NEURONA_DATA", raising=False)
    x, y = fashion_mnist("test", download=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1000] * 10
    with np.load(fm.EMBEDDED, allow_pickle=False) as z:  # the subset's images are the real ones at its indices
        np.testing.assert_array_equal(x[z["index_test"]], z["x_test"])
        np.testing.assert_array_equal(y[z["index_test"]], z["y_test"])
