"""The playground's network: input features, layers, initialisations, model files and `neurona predict`."""
from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest

import neurona
from neurona.models import build_model
from neurona.playground.model import FEATURES, FeatureMap, PlaygroundNet, sin

from .helpers import subprocess_env


def test_sin_gradient_and_dtypes(rng):
    x = rng.normal(size=(4, 3))
    assert neurona.gradcheck(lambda t: sin(t), neurona.tensor(x, dtype=neurona.float64, requires_grad=True))
    x32 = neurona.tensor(x.astype(np.float32), requires_grad=True)
    y = sin(x32)
    y.sum().backward()
    assert y.dtype == np.float32 and x32.grad.dtype == np.float32
    np.testing.assert_allclose(y.array, np.sin(x.astype(np.float32)))
    np.testing.assert_allclose(x32.grad.array, np.cos(x.astype(np.float32)), rtol=1e-6)


def test_feature_map_computes_the_demo_features(rng):
    pts = rng.uniform(-6, 6, (10, 2)).astype(np.float32)
    fm = FeatureMap(list(FEATURES))
    out = fm(neurona.tensor(pts)).array
    x1, x2 = pts[:, 0], pts[:, 1]
    expected = np.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    np.testing.assert_array_equal(out, expected)
    scaled = FeatureMap(["x1", "x2"], shift=[1.0, -2.0], scale=[0.5, 2.0])
    np.testing.assert_allclose(scaled(neurona.tensor(pts)).array, (pts - [1.0, -2.0]) * [0.5, 2.0], rtol=1e-6)


def test_feature_map_is_differentiable():
    fm = FeatureMap(["x1sq", "x1x2", "sinx2"], shift=[0.5, 0.0], scale=[2.0, 1.0])
    x = neurona.tensor(np.random.default_rng(1).normal(size=(3, 2)), dtype=neurona.float64, requires_grad=True)
    assert neurona.gradcheck(lambda t: fm(t), x)


@pytest.mark.parametrize("bad, match", [
    (dict(features=[]), "features"), (dict(features=["x3"]), "features"), (dict(features=["x1", "x1"]), "features"),
    (dict(scale=[0.0, 1.0]), "scale positive"),
])
def test_feature_map_refuses_bad_arguments(bad, match):
    kw = {"features": ["x1"], **bad}
    with pytest.raises(ValueError, match=match):
        FeatureMap(**kw)


def test_feature_map_names_the_expected_input_shape():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        FeatureMap()(neurona.randn(4, 3))


def test_network_shapes_residual_and_trace():
    net = PlaygroundNet(features=["x1", "x2", "sinx1"], hidden=[3, 3, 5], out_features=4, residual=True)
    # 3→3 and 3→3 keep the width; 3→5 does not
    assert [layer.residual for layer in net.layers] == [True, True, False]
    trace = []
    out = net(neurona.randn(6, 2), trace)
    assert out.shape == (6, 4)
    assert [tuple(s.shape) for _, s in trace] == [(6, 3), (6, 3), (6, 5), (6, 4)]
    phi, s = trace[1]
    np.testing.assert_allclose(s.array, np.tanh(phi.array) + trace[0][1].array, rtol=1e-6)


def test_no_hidden_layer_is_a_linear_model():
    net = PlaygroundNet(hidden=[], out_features=2)
    assert len(net.layers) == 0 and net.output.in_features == 2
    assert net(neurona.randn(3, 2)).shape == (3, 2)


def test_initialisations():
    def weights(init, seed=0):
        return [lin.weight.array.copy() for lin in PlaygroundNet(hidden=[64, 64], init=init, seed=seed).linears()]

    zeros = PlaygroundNet(hidden=[8, 8], init="zeros")
    assert all(not lin.weight.array.any() and not lin.bias.array.any() for lin in zeros.linears())
    g = weights("glorot")[1]
    assert abs(g.std() - math.sqrt(2 / 128)) < 0.1 * math.sqrt(2 / 128)
    h = weights("he")[1]
    assert abs(h.std() - math.sqrt(2 / 64)) < 0.1 * math.sqrt(2 / 64)
    d = weights("default")[1]
    assert np.abs(d).max() <= 1 / 8 + 1e-7
    for a, b in zip(weights("glorot", 3), weights("glorot", 3)):  # the seed fixes the initial weights
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(weights("glorot", 3)[0], weights("glorot", 4)[0])


def test_config_rebuilds_the_same_network():
    net = PlaygroundNet(features=["x1", "x1x2"], hidden=[5], out_features=3, activation="relu",
                        batch_norm=True, dropout=0.2, init="he", seed=7, input_shift=[1, 2], input_scale=[0.5, 0.25])
    again = build_model("playground", **net.get_config())
    assert type(again) is PlaygroundNet and again.get_config() == net.get_config()
    for (k, a), (k2, b) in zip(net.state_dict().items(), again.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw, match", [(dict(hidden=[0]), "positive"), (dict(dropout=1.0), "dropout"),
                                       (dict(init="orthogonal"), "init"), (dict(activation="elu"), "activation")])
def test_network_refuses_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        PlaygroundNet(**kw)


def _trained_file(tmp_path, task="classification"):
    from neurona.playground.config import Config
    from neurona.playground.datasets import make_points
    from neurona.playground.export import model_file
    from neurona.playground.training import Run

    if task == "classification":
        cfg = Config().updated({"dataset": "gauss", "classes": 3, "hidden": [6], "optimizer": "adam", "lr": 0.03})
        data = make_points("gauss", 150, 0, 3, 50, 2)
    else:
        cfg = Config().updated({"dataset": "plane", "problem": "regression", "loss": "squared_error", "hidden": [4],
                                "optimizer": "adam", "lr": 0.01})
        data = make_points("plane", 150, 0, 2, 50, 2)
    run = Run(cfg, data)
    for _ in range(5):
        run.train_epoch()
    path = tmp_path / "model.npz"
    path.write_bytes(model_file(run))
    return run, data, path


def test_a_model_file_loads_in_a_fresh_process(tmp_path):
    """The registry finds the playground's model without anything imported beforehand."""
    run, data, path = _trained_file(tmp_path)
    x = data.X[:4]
    code = ("import sys, numpy as np, neurona\n"
            "m = neurona.io.load(sys.argv[1])\n"
            f"x = np.array({x.tolist()}, dtype=np.float32)\n"
            "print(repr(m(neurona.tensor(x)).array.tolist()))\n")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True,
                         env=subprocess_env())
    got = np.array(eval(out.stdout))  # noqa: S307 - a list of floats printed by the line above
    np.testing.assert_allclose(got, run._outputs(x).array, rtol=1e-6)


def test_neurona_predict_reads_the_model_file(tmp_path, capsys):
    from neurona.cli import main

    run, data, path = _trained_file(tmp_path)
    points = tmp_path / "points.csv"
    with open(points, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x1", "x2"])
        w.writerows(data.X[:30].tolist())
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(path), "--input", str(points), "--output", str(out_csv)]) == 0
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    expected = run._outputs(data.X[:30]).array.argmax(axis=1)
    assert [int(r["class"]) for r in rows] == expected.tolist()
    assert {r["name"] for r in rows} <= {"0", "1", "2"}


def test_neurona_predict_gives_regression_values_in_the_files_units(tmp_path):
    """An uploaded regression set is trained on standardized values; predict turns them back."""
    from neurona.cli import main
    from neurona.playground.config import Config
    from neurona.playground.datasets import parse_csv
    from neurona.playground.export import model_file
    from neurona.playground.training import Run

    rng = np.random.default_rng(0)
    X = rng.uniform(100, 200, (80, 2))
    y = 1000 + 3 * X[:, 0] - 2 * X[:, 1]
    text = "a,b,price\n" + "\n".join(f"{a},{b},{t}" for (a, b), t in zip(X, y))
    data = parse_csv(text, ratio=80, seed=0)
    cfg = Config().updated({"dataset": "custom", "problem": "regression", "loss": "squared_error", "hidden": [],
                            "optimizer": "adam", "lr": 0.1})
    run = Run(cfg, data)
    for _ in range(60):
        run.train_epoch()
    path = tmp_path / "m.npz"
    path.write_bytes(model_file(run))
    points = tmp_path / "p.csv"
    points.write_text("x1,x2\n" + "\n".join(f"{a},{b}" for a, b in X[:5]) + "\n")
    out_csv = tmp_path / "out.csv"
    assert main(["predict", str(path), "--input", str(points), "--output", str(out_csv)]) == 0
    with open(out_csv) as f:
        pred = np.array([float(r["prediction_0"]) for r in csv.DictReader(f)])
    np.testing.assert_allclose(pred, y[:5], rtol=0.02)
