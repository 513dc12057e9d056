"""The downloads: the model file, and the Python code that trains the same network again."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neurona
from neurona.playground.config import OPTIMIZERS, Config
from neurona.playground.datasets import make_points, parse_csv
from neurona.playground.export import model_file, model_metadata, python_code
from neurona.playground.training import Run

from .helpers import subprocess_env


def _trained(changes, data=None, epochs=3):
    cfg = Config().updated(changes)
    data = data or make_points(cfg.dataset, 120, 5, cfg.classes, 50, 3)
    run = Run(cfg, data)
    for _ in range(epochs):
        run.train_epoch()
    return run


def _run_script(tmp_path, run, *args):
    script = tmp_path / "playground_train.py"
    script.write_text(python_code(run))
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, env=subprocess_env())
    assert out.returncode == 0, out.stderr
    return out.stdout


def _assert_same_weights(path, run, atol):
    saved = list(neurona.io.read_model_file(path).weights.values())
    mine = list(run.model.state_dict().values())
    assert [a.shape for a in saved] == [b.shape for b in mine]
    for a, b in zip(saved, mine):
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


@pytest.mark.parametrize("changes", [
    dict(dataset="spiral", classes=3, hidden=[6, 6], optimizer="adam", lr=0.01, features=["x1", "x2", "sinx1"]),
    dict(dataset="xor", hidden=[8, 8], activation="relu", optimizer="nesterov", init="he", batch_norm=True,
         residual=True, regularization="l2", reg_rate=0.001, clip="norm", loss="squared_error", batch=7),
])
def test_the_code_runs_and_trains_the_same_network(tmp_path, changes):
    """Run in a fresh interpreter, the script ends with the page's weights (up to float rounding)."""
    run = _trained(changes)
    stdout = _run_script(tmp_path, run, "--save", "w.npz")
    assert f"epoch    {run.epoch}" in stdout
    # the engine may sum a parameter's gradient contributions in another order: a few float32 ulps
    _assert_same_weights(tmp_path / "w.npz", run, atol=1e-5)


def test_the_code_for_uploaded_regression_data(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.uniform(-50, 150, (60, 2))
    text = "\n".join(f"{a},{b},{a * 0.1 - b * 0.02 + 7}" for a, b in X)
    data = parse_csv(text, ratio=70, seed=2)
    run = _trained(dict(dataset="custom", problem="regression", loss="squared_error", hidden=[4],
                        optimizer="rmsprop", lr=0.01, init="default", early_stopping=True, patience=2, clip="value",
                        clip_value=0.5, regularization="l1", reg_rate=0.001, features=["x1", "x2", "x1x2"]),
                   data=data)
    code = python_code(run)
    assert "SHIFT" in code and "MEAN, STD" in code
    _run_script(tmp_path, run, "--save", "w.npz")
    _assert_same_weights(tmp_path / "w.npz", run, atol=1e-5)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_code_builds_each_optimizer_as_the_page_does(name):
    run = _trained(dict(dataset="gauss", hidden=[3], optimizer=name, early_stopping=True, dropout=0.1), epochs=1)
    namespace = {"__name__": "playground_train"}
    exec(compile(python_code(run), "playground_train.py", "exec"), namespace)  # noqa: S102 - our own output
    model = namespace["train"](1)
    assert [tuple(p.shape) for p in model.parameters()] == [tuple(p.shape) for p in run.model.parameters()]
    assert f"optim.{type(run.optimizer).__name__}(" in python_code(run)


def test_the_code_says_when_it_cannot_replay_the_page():
    run = _trained(dict(dataset="circle", hidden=[2]), epochs=1)
    assert "changed settings" not in python_code(run)
    run.apply_live(run.config.updated({"lr": 0.3}))
    assert "changed settings or points" in python_code(run)


def test_the_model_file(tmp_path):
    run = _trained(dict(dataset="spiral", classes=4, hidden=[5], batch_norm=True))
    path = tmp_path / "m.npz"
    path.write_bytes(model_file(run))
    f = neurona.io.read_model_file(path)
    assert f.model_name == "playground" and f.config["hidden"] == [5]
    meta = f.metadata
    assert meta["task"] == "classification" and meta["class_names"] == ["0", "1", "2", "3"]
    assert meta["feature_names"] == ["x1", "x2"] and meta["input_shape"] == [2] and meta["epochs"] == run.epoch
    assert meta["playground"]["dataset"] == "spiral"
    model = neurona.io.load(path)
    x = run.data.X[:7]
    np.testing.assert_allclose(model(neurona.tensor(x)).array, run._outputs(x).array, rtol=1e-6)
    assert not np.load(path, allow_pickle=False)["__header__"].dtype.hasobject


def test_regression_metadata_holds_the_target_scaling():
    data = parse_csv("0,0,10\n1,0,20\n0,1,30\n1,1,45\n", problem="regression")
    run = _trained(dict(dataset="custom", problem="regression", loss="squared_error", hidden=[2]), data=data, epochs=1)
    meta = model_metadata(run)
    assert meta["target_scaler"]["mean"][0, 0] == pytest.approx(26.25)
    assert "target_scaler" not in model_metadata(_trained(dict(dataset="plane", problem="regression",
                                                               loss="squared_error", hidden=[2]), epochs=1))
