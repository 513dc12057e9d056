"""neurona.safetensors and neurona.io's safetensors format.

Files written by neurona are read by the ``safetensors`` package and the other way round; with the
package absent neurona's own reader and writer give the same arrays; models come back from their
config with names and shapes checked; damaged files are refused with the problem named.
"""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import neurona
import neurona.safetensors as st
from neurona import models, nn


@pytest.fixture(params=["package", "own"])
def backend(request, monkeypatch):
    """Run a test with the safetensors package, and again with neurona's own reader and writer."""
    if request.param == "package":
        pytest.importorskip("safetensors")
    else:
        monkeypatch.setattr(st, "_st", None)
    return request.param


def test_model_round_trip(tmp_path, backend, rng):
    model = models.LeNet5()
    path = tmp_path / "lenet.safetensors"
    neurona.io.save(model, path, format="safetensors", dataset="fashion-mnist", accuracy=0.9)
    back = neurona.io.load(path)
    assert isinstance(back, models.LeNet5) and not back.training
    x = neurona.from_numpy(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    np.testing.assert_array_equal(back(x).array, model.eval()(x).array)
    info = json.loads(st.read_metadata(path)["neurona"])
    assert info["model"]["name"] == "lenet5" and info["metadata"] == {"dataset": "fashion-mnist", "accuracy": 0.9}
    weights = st.load_file(path)
    assert sorted(weights) == sorted(model.state_dict())  # the state_dict's names


def test_files_are_interchangeable_with_the_package(tmp_path, rng, monkeypatch):
    pkg = pytest.importorskip("safetensors.numpy")
    arrays = {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(5, dtype=np.int64),
              "h": rng.standard_normal(7).astype(np.float16), "m": np.array([True, False]),
              "n": np.array(3, np.int64)}
    pkg.save_file(arrays, str(tmp_path / "pkg.safetensors"), metadata={"k": "v"})
    monkeypatch.setattr(st, "_st", None)
    own = st.load_file(tmp_path / "pkg.safetensors")  # the package's file, neurona's reader
    for k, a in arrays.items():
        np.testing.assert_array_equal(own[k], a)
        assert own[k].dtype == a.dtype and own[k].shape == a.shape
    assert st.read_metadata(tmp_path / "pkg.safetensors") == {"k": "v"}
    st.save_file(arrays, tmp_path / "own.safetensors", {"k": "v"})  # neurona's writer, the package's reader
    back = pkg.load_file(str(tmp_path / "own.safetensors"))
    for k, a in arrays.items():
        np.testing.assert_array_equal(back[k], a)
    assert (tmp_path / "own.safetensors").read_bytes()[8:].index(b"{") == 0


def test_weights_only_files_need_the_model(tmp_path, backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    st.save_file(model.state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(neurona.io.ModelFileError, match="weights only"):
        neurona.io.load(tmp_path / "w.safetensors")
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    back = neurona.io.load(tmp_path / "w.safetensors", model=fresh)
    np.testing.assert_array_equal(back[0].weight.array, model[0].weight.array)
    models.load_weights(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), tmp_path / "w.safetensors")


def test_names_and_shapes_are_checked(tmp_path, backend):
    neurona.io.save(models.MLP(8, (4,), 2), tmp_path / "mlp.safetensors", format="safetensors")
    with pytest.raises(neurona.io.ModelFileError, match=r"layers.0.weight: the file has shape \(4, 8\), the model "
                                                        r"expects \(5, 8\)"):
        neurona.io.load(tmp_path / "mlp.safetensors", model=models.MLP(8, (5,), 2))
    with pytest.raises(neurona.io.ModelFileError, match="missing .*layers.4"):
        neurona.io.load(tmp_path / "mlp.safetensors", model=models.MLP(8, (4, 4), 2))


def _write(path, header: dict, data: bytes = b"") -> None:
    head = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(head)) + head + data)


def test_damaged_files_are_refused(tmp_path, backend):
    cases = {
        "short": (None, b"\x01\x02"),
        "past_end": ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8),
        "wrong_size": ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
        "dtype": ({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8),
        "fields": ({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
        "metadata": ({"__metadata__": {"a": 1}}, b""),
    }
    messages = {"short": "too short", "past_end": "past the end", "wrong_size": "has 8 bytes for shape",
                "dtype": "unsupported dtype C64", "fields": "lacks", "metadata": "strings"}
    for name, (header, data) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        if header is None:
            path.write_bytes(data)
        else:
            _write(path, header, data)
        with pytest.raises(st.SafetensorsError, match=messages[name]):
            st.load_file(path)
    (tmp_path / "json.safetensors").write_bytes(struct.pack("<Q", 3) + b"{x}")
    with pytest.raises(ValueError, match="not valid JSON"):
        st.load_file(tmp_path / "json.safetensors")
    with pytest.raises(neurona.io.ModelFileError, match="past the end"):
        neurona.io.load(tmp_path / "past_end.safetensors", model=nn.Linear(2, 2))


def test_bfloat16_is_read_as_float32(tmp_path, backend):
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    _write(tmp_path / "b.safetensors", {"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}, bf16)
    np.testing.assert_array_equal(st.load_file(tmp_path / "b.safetensors")["w"], values)


def test_save_refuses_what_safetensors_cannot_hold(tmp_path):
    path = tmp_path / "m.safetensors"
    neurona.io.save(nn.Linear(2, 2), path, format="safetensors")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON values"):
        neurona.io.save(nn.Linear(2, 2), path, format="safetensors", stats=np.zeros(3))
    with pytest.raises(TypeError, match="npz format only"):
        neurona.io.save(nn.Linear(2, 2), path, format="safetensors", preprocessing={"mean": 0.0})
    with pytest.raises(TypeError, match="dtype object"):
        st.save_file({"x": np.array(["a"], dtype=object)}, path)
    assert path.read_bytes() == before  # nothing half-written
    with pytest.raises(ValueError, match="format must be 'npz' or 'safetensors'"):
        neurona.io.save(nn.Linear(2, 2), tmp_path / "m.onnx", format="onnx")
