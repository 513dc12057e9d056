"""neurona.save / neurona.load (neurona/serialization.py): round trips, file objects, refusing pickle."""
from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import neurona as nr
from neurona import nn
from neurona.io import ModelFileError


def _model():
    nr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_state_dict_round_trip(tmp_path):
    m = _model()
    m(nr.randn(8, 3))  # running statistics move away from their initial values
    path = tmp_path / "weights.pt"
    nr.save(m.state_dict(), path)
    loaded = nr.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(m.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(nr.load(str(path)))
    for (k, a), b in zip(m.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)
        assert a.dtype == b.dtype
    x = nr.randn(5, 3)
    m.eval(), fresh.eval()
    np.testing.assert_array_equal(m(x).array, fresh(x).array)


def test_optimizer_state_round_trip_resumes_exactly():
    m = _model()
    opt = nr.optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)
    x, y = nr.randn(6, 3), nr.randn(6, 2)
    for _ in range(2):
        opt.zero_grad()
        ((m(x) - y) ** 2).mean().backward()
        opt.step()
    buffer = io.BytesIO()
    nr.save({"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}, buffer)
    buffer.seek(0)
    ckpt = nr.load(buffer)
    m2 = _model()
    m2.load_state_dict(ckpt["model"])
    opt2 = nr.optim.Adam(m2.parameters(), lr=0.5)
    opt2.load_state_dict(ckpt["optimizer"])
    assert ckpt["epoch"] == 2 and opt2.param_groups[0]["betas"] == (0.8, 0.99) and opt2.param_groups[0]["lr"] == 0.01
    for model, o in ((m, opt), (m2, opt2)):
        o.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        o.step()
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.array, b.array)


def test_tensors_keep_dtype_requires_grad_parameter_and_sharing():
    t = nr.tensor([1.0, 2.0], requires_grad=True)
    p = nn.Parameter(nr.zeros(2, dtype=nr.float64))
    obj = {"t": t, "p": p, "again": t, "ints": nr.arange(3), "half": nr.ones(2, dtype=nr.half),
           "frozen": nn.Parameter(nr.ones(1), requires_grad=False), "mask": nr.tensor([True, False])}
    buffer = io.BytesIO()
    nr.save(obj, buffer)
    buffer.seek(0)
    back = nr.load(buffer, map_location="cpu")
    assert isinstance(back["t"], nr.Tensor) and not isinstance(back["t"], nn.Parameter)
    assert back["t"].requires_grad and back["t"].is_leaf and back["t"].dtype == np.float32
    assert isinstance(back["p"], nn.Parameter) and back["p"].dtype == np.float64 and back["p"].requires_grad
    assert back["again"] is back["t"]  # one tensor referred to twice comes back as one tensor
    assert back["ints"].dtype == np.int64 and back["half"].dtype == np.float16 and back["mask"].dtype == np.bool_
    assert isinstance(back["frozen"], nn.Parameter) and not back["frozen"].requires_grad
    np.testing.assert_array_equal(back["t"].array, [1, 2])


def test_plain_values_round_trip(tmp_path):
    obj = {"int": 3, "float": 0.25, "nan": float("nan"), "inf": float("-inf"), "str": "é ✓", "none": None,
           "bool": True, "list": [1, [2, 3.5]], "tuple": (1, ("a", None)), "empty": {}, "nested": {"a": {"b": []}},
           "ndarray": np.arange(6, dtype=np.int32).reshape(2, 3), "scalar": np.float32(1.5), "dtype": nr.float64,
           "device": nr.device("cpu"), 7: "int key", (1, "x"): "tuple key", None: "none key", 2.5: "float key"}
    nr.save(obj, tmp_path / "x.pt")
    back = nr.load(tmp_path / "x.pt")
    assert type(back) is dict and list(back) == list(obj)
    for k in obj:
        if k == "nan":
            assert np.isnan(back[k])
        elif k == "dtype":
            assert back[k] == np.dtype(np.float64)  # a dtype comes back as a numpy.dtype
        elif k == "ndarray":
            assert back[k].dtype == np.int32
            np.testing.assert_array_equal(back[k], obj[k])
        elif k == "scalar":
            assert type(back[k]) is np.float32 and back[k] == 1.5
        else:
            assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    assert back["device"] == "cpu" and back["dtype"] == np.float64


def test_a_single_tensor_and_a_list(tmp_path):
    nr.save(nr.eye(3), tmp_path / "t.pt")
    np.testing.assert_array_equal(nr.load(tmp_path / "t.pt").array, np.eye(3))
    nr.save([nr.ones(1), 2], tmp_path / "l.pt")
    a, b = nr.load(tmp_path / "l.pt")
    assert b == 2 and a.tolist() == [1.0]


def test_the_file_is_an_npz_with_a_json_header(tmp_path):
    nr.save({"w": nr.ones(2)}, tmp_path / "w.pt")
    with np.load(tmp_path / "w.pt", allow_pickle=False) as z:
        header = json.loads(z["__header__"].tobytes())
        assert header["format"] == "neurona.save" and header["version"] == 1
        np.testing.assert_array_equal(z["a/0"], [1, 1])


def test_unsupported_objects_are_refused_before_the_file_is_touched(tmp_path):
    path = tmp_path / "keep.pt"
    nr.save({"ok": 1}, path)
    before = path.read_bytes()
    for bad, what in [({"f": print}, r"object\['f'\]: a builtins.builtin_function_or_method"),
                      ({"m": _model()}, "for a model, save model.state_dict()"),
                      ({frozenset([1]): 1}, "dict key of type frozenset"),
                      ({"s": {1, 2}}, "a builtins.set"),
                      ({"o": np.array(["a"])}, "dtype <U1")]:
        with pytest.raises(TypeError, match=what):
            nr.save(bad, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_pickle_files_are_refused(tmp_path):
    p = tmp_path / "p.pkl"
    p.write_bytes(pickle.dumps({"a": np.ones(2)}))
    with pytest.raises(ModelFileError, match="holds pickled Python objects.*never loads"):
        nr.load(p)
    # a zip laid out as torch.save writes it (the pickle is inside)
    t = tmp_path / "torch.pt"
    with zipfile.ZipFile(t, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"a": 1}))
        zf.writestr("archive/version", "3\n")
    with pytest.raises(ModelFileError, match="was written by torch.save.*neurona.models.load_weights"):
        nr.load(t)
    # an npz whose array needs pickle
    o = tmp_path / "obj.npz"
    np.savez(o, __header__=np.frombuffer(b'{"format": "neurona.save"}', np.uint8), x=np.array([{"a": 1}], object))
    with pytest.raises(ModelFileError, match="pickle|not declared|malformed"):
        nr.load(o)


@pytest.mark.parametrize("tamper, match", [
    (lambda h: h.update(format="other"), "not a file written by neurona.save"),
    (lambda h: h.update(version=99), "newer neurona"),
    (lambda h: h["object"].update({"__dict__": [["w", {"__tensor__": "a/7", "requires_grad": False,
                                                        "parameter": False, "device": "cpu"}]]}),
     "refers to array 'a/7'"),
    (lambda h: h.update(object={"__class__": "os.system"}), "which neurona.save never writes"),
    (lambda h: h["arrays"]["a/0"].update(shape=[3]), "the header says"),
    (lambda h: h["arrays"]["a/0"].update(dtype="object"), "only numeric dtypes"),
])
def test_malformed_files_are_refused(tmp_path, tamper, match):
    path = tmp_path / "w.pt"
    nr.save({"w": nr.ones(2)}, path)
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["__header__"].tobytes())
        arrays = {k: z[k] for k in z.files if k != "__header__"}
    tamper(header)
    with open(path, "wb") as f:  # (given a path without .npz, np.savez would add the suffix)
        np.savez(f, __header__=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    with pytest.raises(ModelFileError, match=match):
        nr.load(path)


def test_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        nr.load(tmp_path / "missing.pt")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ModelFileError, match="the file is empty"):
        nr.load(empty)
    truncated = tmp_path / "cut.pt"
    nr.save({"w": nr.ones(100)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        nr.load(truncated)
    model_file = tmp_path / "model.npz"
    nr.io.save(_model(), model_file)
    with pytest.raises(ModelFileError, match=r"is a neurona model file.*neurona.io.load"):
        nr.load(model_file)


def test_map_location_and_weights_only(tmp_path):
    path = tmp_path / "w.pt"
    nr.save({"w": nr.ones(2)}, path)
    for loc in (None, "cpu", nr.device("cpu"), {"cpu": "cpu"}):
        for weights_only in (True, False):
            assert nr.load(path, map_location=loc, weights_only=weights_only)["w"].device == "cpu"
    if not nr.cuda.is_available():
        with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
            nr.load(path, map_location="cuda")
    with pytest.raises(RuntimeError, match="device 'mps' is not available"):
        nr.load(path, map_location="mps")
    with pytest.raises(TypeError, match="map_location as a function"):
        nr.load(path, map_location=lambda storage, loc: storage)


def test_file_objects_and_bad_targets(tmp_path):
    with open(tmp_path / "f.pt", "wb") as f:
        nr.save({"a": nr.ones(3)}, f)
    with open(tmp_path / "f.pt", "rb") as f:
        assert nr.load(f)["a"].shape == (3,)
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        nr.save({}, 3)
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        nr.load(3)
