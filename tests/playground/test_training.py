"""Training runs: losses, optimizers, regularization, clipping, early stopping, histograms, deltas vs autodiff."""
from __future__ import annotations

import base64

import numpy as np
import pytest

import neurona
from neurona.classic import ClassicMLP
from neurona.playground.config import OPTIMIZERS, Config
from neurona.playground.datasets import make_points
from neurona.playground.deltas import folded_layers, point_deltas
from neurona.playground.training import GRID, Run, grid_points, make_loss, squared_error


def _run(data="circle", classes=2, n=200, **changes):
    problem = "regression" if data in ("plane", "multigauss") else "classification"
    base = {"dataset": data, "problem": problem, "classes": classes}
    if problem == "regression":
        base["loss"] = "squared_error"
    cfg = Config().updated({**base, **changes})
    return Run(cfg, make_points(data, n, 0, classes, 50, 1))


def test_training_lowers_the_loss():
    run = _run("circle", hidden=[6], optimizer="adam", lr=0.03)
    start = run.metrics["test_loss"]
    for _ in range(15):
        run.train_epoch()
    assert run.epoch == 15 and run.steps == 15 * 10  # 100 training points in batches of 10
    assert run.metrics["test_loss"] < 0.5 * start
    assert run.metrics["test_accuracy"] > 0.9
    assert [e for e, _, _ in run.history] == list(range(16))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_of_the_notes_trains(name):
    lr = {"adadelta": 1.0, "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05}.get(name, 0.01)
    run = _run("gauss", hidden=[4], optimizer=name, lr=lr)
    assert type(run.optimizer).__name__ == OPTIMIZERS[name][0]
    if name == "nesterov":
        assert run.optimizer.param_groups[0]["nesterov"] is True
    start = run.metrics["train_loss"]
    for _ in range(5):
        run.train_epoch()
    assert run.metrics["train_loss"] < start


def test_squared_error_is_the_notes_half_sum_of_squares(rng):
    logits = rng.normal(size=(5, 3)).astype(np.float32)
    target = np.array([0, 2, 1, 1, 0])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = 0.5 * ((p - np.eye(3)[target]) ** 2).sum(axis=1).mean()
    got = squared_error(neurona.tensor(logits), neurona.tensor(target), 3)
    assert got.dtype == np.float32 and got.item() == pytest.approx(expected, rel=1e-5)
    y = rng.normal(size=(4, 1)).astype(np.float32)
    t = rng.normal(size=(4, 1)).astype(np.float32)
    assert squared_error(neurona.tensor(y), neurona.tensor(t)).item() == pytest.approx(0.5 * ((y - t) ** 2).mean(),
                                                                                        rel=1e-5)
    assert type(make_loss(Config(), "classification", 2)).__name__ == "CrossEntropyLoss"


def test_zero_initialisation_keeps_the_neurons_identical():
    """Why zeros fails: every neuron of a layer gets the same gradient, so they never differ."""
    run = _run("xor", hidden=[4, 4], init="zeros", activation="tanh", lr=0.3)
    for _ in range(5):
        run.train_epoch()
    for lin in run.model.linears()[1:]:
        w = lin.weight.array
        assert np.allclose(w, w[:, :1]), "the columns of a layer's weights stay equal"
    w1 = run.model.linears()[0].weight.array
    assert np.allclose(w1, w1[:1])


def test_regularization_shrinks_the_weights():
    plain = _run("spiral", hidden=[8], lr=0.1)
    l2 = _run("spiral", hidden=[8], lr=0.1, regularization="l2", reg_rate=0.3)
    l1 = _run("spiral", hidden=[8], lr=0.1, regularization="l1", reg_rate=0.03)
    for _ in range(10):
        for r in (plain, l2, l1):
            r.train_epoch()
    norm = lambda r: sum(float(np.abs(lin.weight.array).sum()) for lin in r.model.linears())  # noqa: E731
    assert norm(l2) < 0.7 * norm(plain) and norm(l1) < 0.7 * norm(plain)


def test_gradient_clipping_bounds_the_step():
    run = _run("circle", hidden=[8], lr=0.1, clip="value", clip_value=1e-3)
    run.step()
    assert max(np.abs(g).max() for g in run.last_grads) <= 1e-3 + 1e-9
    run = _run("circle", hidden=[8], lr=0.1, clip="norm", clip_value=1e-2)
    run.step()
    total = np.sqrt(sum(float((p.grad.array.astype(np.float64) ** 2).sum()) for p in run.model.parameters()))
    assert total <= 1e-2 * (1 + 1e-4)


def test_dropout_and_batch_norm_train():
    run = _run("circle", n=102, hidden=[8, 8], dropout=0.2, batch_norm=True, batch=50, optimizer="adam", lr=0.03)
    assert len(run.loader) == 1 and run.loader.drop_last  # 51 training points: the last batch of 1 is left out
    run.train_epoch()
    run = _run("circle", n=200, hidden=[8, 8], dropout=0.2, batch_norm=True, batch=10, optimizer="adam", lr=0.03)
    for _ in range(20):
        run.train_epoch()
    assert run.metrics["test_accuracy"] > 0.8


def test_early_stopping_stops_and_restores_the_best_weights():
    run = _run("xor", hidden=[8], optimizer="adam", lr=1.0, early_stopping=True, patience=2)
    for _ in range(200):
        run.train_epoch()
        if run.stopped:
            break
    assert run.stopped and "early stopping" in run.stopped
    best = min(t for _, _, t in run.history[1:])
    assert run.metrics["test_loss"] == pytest.approx(best, rel=1e-6)


def test_live_changes_keep_the_network():
    run = _run("circle", hidden=[4])
    run.train_epoch()
    w = run.model.linears()[0].weight.array.copy()
    run.apply_live(run.config.updated({"lr": 0.5, "batch": 25}))
    assert run.optimizer.param_groups[0]["lr"] == 0.5 and run.loader.batch_size == 25
    np.testing.assert_array_equal(run.model.linears()[0].weight.array, w)
    assert run.epoch == 1 and run.altered


def test_frame_parts():
    run = _run("spiral", classes=3, hidden=[5, 3])
    run.train_epoch()
    trace = []
    b = run.boundary(grid_points(), trace)
    assert b["kind"] == "classes" and b["n"] == GRID
    cls = np.frombuffer(base64.b64decode(b["cls"]), np.uint8)
    assert cls.size == GRID * GRID and cls.max() <= 2
    imgs = run.neuron_images(trace)
    assert [len(layer) for layer in imgs] == [5, 3]
    assert len(base64.b64decode(imgs[0][0]["img"])) == 32 * 32
    h = run.histograms()
    assert len(h["layers"]) == 3 and "s" in h["layers"][0] and "s" not in h["layers"][2]
    assert all(max(e["w"]) == 255 for e in h["layers"]) and "g_mean" in h["layers"][0]
    assert [len(w["w"]) for w in run.weights()] == [5, 3, 3]
    reg = _run("plane", hidden=[3])
    assert reg.boundary(grid_points(8))["kind"] == "value"


def test_grid_covers_the_square_from_the_top_left():
    g = grid_points(4)
    assert g.shape == (16, 2)
    assert g[0].tolist() == [-4.5, 4.5] and g[-1].tolist() == [4.5, -4.5]


# --- the deltas shown for a point -------------------------------------------------------------


def _autodiff_deltas(run, index):
    """∂q/∂φ^(l) of every layer by backpropagation through neurona's engine (float64 copy of the network)."""
    model = run.model.double()
    model.eval()
    x = run.data.X[index].astype(np.float64).reshape(1, 2)
    trace = []
    out = model(neurona.from_numpy(x), trace)
    for phi, _ in trace:
        phi.retain_grad()
    t = run.data.targets(np.arange(len(run.data)) == index)
    loss = make_loss(run.config, run.data.task, run.data.classes)(out, neurona.tensor(t))
    loss.backward()
    return [phi.grad.array.ravel() for phi, _ in trace], float(loss.item())


@pytest.mark.parametrize("changes", [
    dict(activation="tanh"), dict(activation="relu", loss="squared_error"), dict(activation="sigmoid"),
    dict(activation="linear", batch_norm=True), dict(residual=True), dict(residual=True, batch_norm=True,
                                                                          activation="relu", loss="squared_error"),
    dict(hidden=[]),
])
def test_deltas_follow_the_notes_and_agree_with_autodiff(changes):
    kw = {"hidden": [5, 5, 5], "features": ["x1", "x2", "sinx1"], **changes}
    run = _run("spiral", classes=3, **kw)
    for _ in range(3):
        run.train_epoch()
    index = 7
    target = int(run.data.y[index])
    run.model.double()  # compare in float64: the page's deltas are float64 sums of the network's own numbers
    info = point_deltas(run.model, run.data.X[index], target, "classification", run.config.loss)
    assert info["method"] == ("residual" if any(layer.residual for layer in run.model.layers) else "classic")
    grads, q = _autodiff_deltas(run, index)
    assert len(info["layers"]) == len(grads)
    for shown, g in zip(info["layers"], grads):
        np.testing.assert_allclose(shown["delta"], g, rtol=1e-9, atol=1e-12)
    assert info["loss"] == pytest.approx(q, rel=1e-9)


def test_deltas_for_a_regression():
    run = _run("multigauss", hidden=[4, 4], residual=True)
    run.train_epoch()
    target = float(run.data.targets(np.arange(len(run.data)) == 3)[0, 0])
    run.model.double()
    info = point_deltas(run.model, run.data.X[3], target, "regression", "squared_error")
    grads, q = _autodiff_deltas(run, 3)
    for shown, g in zip(info["layers"], grads):
        np.testing.assert_allclose(shown["delta"], g, rtol=1e-9, atol=1e-12)


def test_plain_networks_use_the_classic_mlp_of_the_notes():
    """The shown values are ClassicMLP's, given the network's weights (batch norm folded in)."""
    run = _run("xor", hidden=[4, 3], batch_norm=True, activation="sigmoid")
    for _ in range(3):
        run.train_epoch()
    run.model.eval()
    layers = folded_layers(run.model)
    net = ClassicMLP([2, 4, 3, 2], activations="sigmoid", output="softmax", loss="cross_entropy", seed=None)
    net.set_weights([w for W, b, _ in layers for w in (W, b)])
    x = run.data.X[:1].astype(np.float64)
    g = net.backward(x, run.data.y[:1])
    info = point_deltas(run.model, run.data.X[0], int(run.data.y[0]), "classification", "cross_entropy")
    for l, shown in enumerate(info["layers"], start=1):
        np.testing.assert_array_equal(shown["delta"], g.delta[l].ravel())
    # the folded network computes what the network computes in eval mode
    np.testing.assert_allclose(net.predict(x), neurona.softmax(run._outputs(run.data.X[:1]), dim=1).array, rtol=1e-5)
