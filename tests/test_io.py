"""Safe model files: round trips, refusal of pickle and damaged files, atomic writes, checkpoints."""
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import io, nn, optim
from neurona.data import DataLoader, Standardizer, make_gaussians
from neurona.models import MLP, build_model
from neurona.train import EarlyStopping, Trainer

ROOT = Path(__file__).resolve().parents[1]


def _mlp(seed=0, **kw):
    neurona.manual_seed(seed)
    cfg = dict(in_features=4, hidden=[8, 6], out_features=3, batch_norm=True, dropout=0.1)
    cfg.update(kw)
    return MLP(**cfg)


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k])


class Payload:
    """Unpickling this creates a marker file: proof that code would have run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --- round trips -----------------------------------------------------------------------


def test_model_round_trip_with_metadata_and_preprocessing(tmp_path):
    model = _mlp()
    x = neurona.randn(5, 4)
    model.train()
    model(x)  # move the BatchNorm running statistics away from their start
    sc = Standardizer().fit(np.random.default_rng(0).normal(size=(50, 4)))
    path = io.save(model, tmp_path / "m.npz", preprocessing=sc, dataset="toy", classes=["a", "b", "c"],
                   shape=(4,), score=0.75, missing=float("nan"), nested={"k": [1, 2], 3: "int key"},
                   table=np.arange(6).reshape(2, 3))
    loaded = io.load(path)
    assert isinstance(loaded, MLP) and not loaded.training
    _same_weights(model, loaded)
    model.eval()
    np.testing.assert_array_equal(model(x).array, loaded(x).array)
    f = io.read_model_file(path)
    assert f.kind == "model" and f.model_name == "mlp" and f.config == model.get_config()
    m = f.metadata
    assert m["dataset"] == "toy" and m["classes"] == ["a", "b", "c"] and m["shape"] == (4,) and m["score"] == 0.75
    assert np.isnan(m["missing"]) and m["nested"] == {"k": [1, 2], 3: "int key"}
    np.testing.assert_array_equal(m["table"], np.arange(6).reshape(2, 3))
    assert isinstance(f.preprocessing, Standardizer)
    np.testing.assert_allclose(f.preprocessing.mean, sc.mean)
    # a plain npz: any NumPy reads it without pickle
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["__header__"].tobytes())
        assert header["format"] == "neurona" and header["version"] == io.VERSION
        np.testing.assert_array_equal(z["weights/layers.0.weight"], model.state_dict()["layers.0.weight"])


def test_models_from_the_registry_and_weights_only_models(tmp_path):
    m = build_model("mlp", in_features=3, hidden=[5], out_features=2)
    io.save(m, tmp_path / "reg.npz")
    _same_weights(m, io.load(tmp_path / "reg.npz"))

    neurona.manual_seed(1)
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    io.save(plain, tmp_path / "plain.npz")
    with pytest.raises(io.ModelFileError, match="weights only.*load\\(path, model="):
        io.load(tmp_path / "plain.npz")
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert io.load(tmp_path / "plain.npz", model=other) is other
    _same_weights(plain, other)


def test_wrong_architecture_names_the_file_and_the_shapes(tmp_path):
    io.save(_mlp(hidden=[8, 6]), tmp_path / "m.npz")
    target = _mlp(hidden=[8, 7])
    before = {k: v.numpy().copy() for k, v in target.state_dict().items()}
    with pytest.raises(io.ModelFileError) as e:
        io.load(tmp_path / "m.npz", model=target)
    msg = str(e.value)
    assert str(tmp_path / "m.npz") in msg and "different architecture" in msg
    assert "layers.4.weight: the file has shape (6, 8), the model expects (7, 8)" in msg
    for k, v in before.items():  # nothing was loaded
        np.testing.assert_array_equal(target.state_dict()[k], v)
    with pytest.raises(io.ModelFileError, match="missing .*unexpected"):
        io.load(tmp_path / "m.npz", model=nn.Sequential(nn.Linear(4, 3)))


def test_unsavable_values_are_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match="metadata.thing: a object"):
        io.save(_mlp(), tmp_path / "m.npz", thing=object())
    with pytest.raises(TypeError, match="numeric"):
        io.save(_mlp(), tmp_path / "m.npz", names=np.array(["a", "b"], dtype=object))
    assert not (tmp_path / "m.npz").exists() and list(tmp_path.iterdir()) == []


# --- refusing pickle and damaged files --------------------------------------------------


def test_the_payload_is_live(tmp_path):
    # sanity check of the test itself: unpickling the payload really runs code
    marker = tmp_path / "ran"
    np.save(tmp_path / "evil.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


def _valid_header_bytes(tmp_path) -> dict:
    io.save(_mlp(), tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as z:
        return json.loads(z["__header__"].tobytes()), {k: z[k] for k in z.files if k != "__header__"}


def _write_npz(path, header: dict, arrays: dict):
    blob = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, __header__=blob, **arrays)  # np.savez pickles object arrays: that is the attack


def test_pickled_object_arrays_are_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    header, arrays = _valid_header_bytes(tmp_path)
    evil = np.array([Payload(marker)], dtype=object)
    # 1. declared as an innocent float array
    key = "weights/layers.0.bias"
    arrays1 = dict(arrays, **{key: evil})
    header1 = json.loads(json.dumps(header))
    header1["arrays"][key] = {"shape": [1], "dtype": "float32"}
    _write_npz(tmp_path / "a.npz", header1, arrays1)
    with pytest.raises(io.ModelFileError, match=r"a\.npz: entry 'weights/layers\.0\.bias' holds pickled Python"):
        io.load(tmp_path / "a.npz")
    # 2. declared honestly as an object array
    header2 = json.loads(json.dumps(header))
    header2["arrays"][key] = {"shape": [1], "dtype": "object"}
    _write_npz(tmp_path / "b.npz", header2, arrays1)
    with pytest.raises(io.ModelFileError, match="dtype 'object'; only numeric dtypes"):
        io.load(tmp_path / "b.npz")
    # 3. an extra, undeclared entry
    _write_npz(tmp_path / "c.npz", header, dict(arrays, extra=evil))
    with pytest.raises(io.ModelFileError, match="not declared in the header: extra"):
        io.load(tmp_path / "c.npz")
    # 4. the whole file is a pickle, or a single .npy of objects
    with open(tmp_path / "d.npz", "wb") as f:
        pickle.dump(Payload(marker), f)
    with pytest.raises(io.ModelFileError, match="pickled Python objects; neurona never loads pickle"):
        io.load(tmp_path / "d.npz")
    np.save(tmp_path / "e.npy", evil, allow_pickle=True)
    with pytest.raises(io.ModelFileError, match="pickled"):
        io.read_model_file(tmp_path / "e.npy")
    assert not marker.exists()


def test_malformed_headers(tmp_path):
    header, arrays = _valid_header_bytes(tmp_path)

    def check(name, hdr, match, arrs=arrays):
        _write_npz(tmp_path / name, hdr, arrs)
        with pytest.raises(io.ModelFileError, match=match):
            io.load(tmp_path / name)

    check("format.npz", {**header, "format": "other"}, "header format is 'other'")
    check("version.npz", {**header, "version": 99}, "newer neurona .format version 99")
    check("kind.npz", {**header, "kind": "script"}, "kind 'script'")
    check("weights.npz", {**header, "weights": "all"}, "'weights' must be a list")
    h = json.loads(json.dumps(header))
    h["arrays"]["weights/layers.0.weight"]["shape"] = [8, 5]
    check("shape.npz", h, r"array 'weights/layers\.0\.weight' has dtype float32 and shape \(8, 4\), the header says")
    missing = dict(arrays)
    del missing["weights/layers.0.weight"]
    check("missing.npz", header, "arrays declared in the header are missing", missing)
    check("model.npz", {**header, "model": {"name": "os.system", "config": {"command": "touch x"}}},
          "no model named 'os.system' is registered")
    check("ref.npz", {**header, "metadata": {"x": {"__array__": "state/99"}}}, "refers to array 'state/99'")
    np.savez(tmp_path / "nojson.npz", __header__=np.frombuffer(b"{not json", dtype=np.uint8), **arrays)
    with pytest.raises(io.ModelFileError, match="not valid JSON"):
        io.load(tmp_path / "nojson.npz")
    np.savez(tmp_path / "noheader.npz", **arrays)
    with pytest.raises(io.ModelFileError, match="no '__header__' entry"):
        io.load(tmp_path / "noheader.npz")


def test_truncated_and_corrupted_files(tmp_path):
    path = io.save(_mlp(hidden=[64, 32]), tmp_path / "m.npz")
    data = path.read_bytes()
    for n in (10, len(data) // 2, len(data) - 30):
        (tmp_path / "t.npz").write_bytes(data[:n])
        with pytest.raises(io.ModelFileError, match=r"t\.npz: truncated or corrupted"):
            io.load(tmp_path / "t.npz")
    corrupt = bytearray(data)
    i = data.index(b"layers.0.weight.npy") + 200  # inside that array's bytes
    corrupt[i] ^= 0xFF
    (tmp_path / "c.npz").write_bytes(bytes(corrupt))
    with pytest.raises(io.ModelFileError, match="corrupted"):
        io.load(tmp_path / "c.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(io.ModelFileError, match="not a neurona model file"):
        io.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="no such model file"):
        io.load(tmp_path / "absent.npz")


# --- atomic writes ----------------------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with io.atomic_write(target, "w") as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]
    with io.atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new"


_KILL_SCRIPT = r"""
import sys, time
import neurona
from neurona import io
from neurona.models import MLP

neurona.manual_seed(1)
model = MLP(784, [512, 256], 10)
def pause(name):
    print("wrote", name, flush=True)
    if name.endswith("layers.2.weight"):
        time.sleep(60)           # the parent kills us here, half-way through the archive
io._on_entry_written = pause
io.save(model, sys.argv[1])
print("finished", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_save_killed_half_way_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.npz"
    neurona.manual_seed(0)
    old = MLP(784, [512, 256], 10)
    io.save(old, path)
    before = path.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        for line in proc.stdout:
            if "layers.2.weight" in line:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p for p in tmp_path.iterdir() if p.name != "model.npz"]
    assert leftovers and leftovers[0].name.startswith(".model.npz.tmp-")  # the half-written temporary file
    assert path.read_bytes() == before
    _same_weights(old, io.load(path))
    with pytest.raises(io.ModelFileError):
        io.load(leftovers[0])  # and the interrupted one is recognizably broken


# --- checkpoints -----------------------------------------------------------------------


def _train_setup(seed=0):
    X, y = make_gaussians(160, noise=0.3, seed=seed)
    model = build_model("mlp", in_features=2, hidden=[16], out_features=2, dropout=0.3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader((X[:120], y[:120]), batch_size=16, shuffle=True, seed=seed)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[EarlyStopping(patience=10)], verbose=0)
    return trainer, loader, (X[120:], y[120:])


def test_checkpoint_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    neurona.manual_seed(3)
    t, loader, val = _train_setup()
    t.fit(loader, val, epochs=4)
    full = {k: v.numpy().copy() for k, v in t.model.state_dict().items()}

    neurona.manual_seed(3)
    t1, loader1, val1 = _train_setup()
    t1.fit(loader1, val1, epochs=2)
    io.save_checkpoint(tmp_path / "ck.npz", t1.model, t1.optimizer, epoch=2, trainer=t1, loader=loader1,
                       note="half way")
    neurona.manual_seed(99)  # whatever happens in between, the checkpoint brings the generators back
    t2, loader2, val2 = _train_setup(seed=0)
    ck = io.load_checkpoint(tmp_path / "ck.npz", model=t2.model, optimizer=t2.optimizer, trainer=t2,
                            loader=loader2)
    assert ck.epoch == 2 and ck.metadata["note"] == "half way" and t2.model.training
    assert ck.optimizer_state["param_groups"][0]["lr"] == 0.01
    t2.fit(loader2, val2, epochs=4, initial_epoch=ck.epoch)
    assert t2.history.epoch == [0, 1, 2, 3]
    for k, v in full.items():
        np.testing.assert_array_equal(t2.model.state_dict()[k], v)


def test_checkpoint_kinds_and_optimizer_mismatch(tmp_path):
    t, loader, _ = _train_setup()
    io.save_checkpoint(tmp_path / "ck.npz", t.model, t.optimizer, epoch=1)
    io.save(t.model, tmp_path / "m.npz")
    assert isinstance(io.load(tmp_path / "ck.npz"), MLP)  # the model of a checkpoint loads like a model file
    with pytest.raises(io.ModelFileError, match="is a model file, not a training checkpoint"):
        io.load_checkpoint(tmp_path / "m.npz")
    with pytest.raises(io.ModelFileError, match="state of a Adam optimizer, not of a SGD"):
        io.load_checkpoint(tmp_path / "ck.npz", optimizer=optim.SGD(t.model.parameters(), lr=0.1))
    ck = io.load_checkpoint(tmp_path / "ck.npz", restore_rng=False)
    assert isinstance(ck.model, MLP) and ck.epoch == 1 and ck.trainer_state is None


def test_rng_capture_and_restore_with_augmentation():
    from neurona.data import Compose, RandomHorizontalFlip

    aug = Compose([RandomHorizontalFlip(generator=np.random.default_rng(5))])
    loader = DataLoader((np.zeros((10, 4, 4), np.float32), np.zeros(10)), batch_size=5, shuffle=True, seed=1,
                        transform=aug)
    state = io.capture_rng_state(loader)
    first = [b[0].array.copy() for b in loader], neurona.randn(3).array
    io.restore_rng_state(state, loader)
    again = [b[0].array.copy() for b in loader], neurona.randn(3).array
    np.testing.assert_array_equal(first[1], again[1])
    assert len(state["loader"]) == 3  # the loader's generator, Compose (none), the flip's generator


def test_a_refused_checkpoint_changes_nothing(tmp_path):
    neurona.manual_seed(0)
    t, loader, val = _train_setup()
    t.fit(loader, val, epochs=1)
    io.save_checkpoint(tmp_path / "ck.npz", t.model, t.optimizer, epoch=1, trainer=t, loader=loader)
    # a run without the EarlyStopping the checkpoint has state for
    neurona.manual_seed(1)
    model = build_model("mlp", in_features=2, hidden=[16], out_features=2, dropout=0.3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    other = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="callback EarlyStopping:0"):
        io.load_checkpoint(tmp_path / "ck.npz", model=model, optimizer=opt, trainer=other)
    for k, v in weights.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
    assert len(other.history) == 0 and other.epochs_done == 0
    # an optimizer over other parameters than the checkpoint's
    opt2 = optim.Adam(list(model.parameters())[:2], lr=0.01)
    with pytest.raises(io.ModelFileError, match="optimizer state does not fit"):
        io.load_checkpoint(tmp_path / "ck.npz", model=model, optimizer=opt2)
    for k, v in weights.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
