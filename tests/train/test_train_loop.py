"""fit / evaluate / predict: learning, equivalence with a hand-written loop, modes, options, errors."""
import numpy as np
import pytest

import neurona
from neurona import nn, optim
from neurona.data import DataLoader, make_gaussians
from neurona.train import LambdaCallback, Trainer, evaluate, fit, predict, weight_penalty


def _data(n=240, seed=0):
    X, y = make_gaussians(n, noise=0.1, seed=seed)
    return X[: n - 60], y[: n - 60], X[n - 60:], y[n - 60:]


def _model(seed=0, dropout=0.0):
    neurona.manual_seed(seed)
    layers = [nn.Linear(2, 16), nn.Tanh()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 2))


def _weights(model):
    return {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}


def test_fit_learns_and_returns_history():
    Xtr, ytr, Xv, yv = _data()
    model = _model()
    h = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (Xtr, ytr), val=(Xv, yv),
            epochs=4, batch_size=32, verbose=0, seed=0)
    assert len(h) == 4 and h.epoch == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        assert len(h[key]) == 4, key
    assert h["loss"][-1] < h["loss"][0]
    assert h["val_accuracy"][-1] > 0.9
    assert h["lr"] == [0.05] * 4
    assert h.best("val_loss")[0] in range(4)
    assert len(h.logs) == 4 and h.logs[0]["epoch"] == 0
    with pytest.raises(KeyError, match="no 'val_f1'"):
        h["val_f1"]


def test_fit_equals_a_hand_written_loop():
    Xtr, ytr, _, _ = _data()
    loss_fn = nn.CrossEntropyLoss()
    a = _model(1, dropout=0.2)  # dropout: the global generator is used the same way by both
    neurona.manual_seed(5)
    fit(a, loss_fn, optim.SGD(a.parameters(), lr=0.1, momentum=0.9),
        DataLoader((Xtr, ytr), batch_size=16, shuffle=True, seed=3), epochs=3, verbose=0)

    b = _model(1, dropout=0.2)
    neurona.manual_seed(5)
    opt = optim.SGD(b.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader((Xtr, ytr), batch_size=16, shuffle=True, seed=3)
    for _ in range(3):
        b.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(b(xb), yb)
            loss.backward()
            opt.step()
    for k, v in _weights(a).items():
        np.testing.assert_array_equal(v, b.state_dict()[k])


def test_arrays_become_a_seeded_shuffled_loader():
    Xtr, ytr, _, _ = _data()
    results = []
    for how in ("arrays", "loader"):
        m = _model(2)
        data = (Xtr, ytr) if how == "arrays" else DataLoader((Xtr, ytr), batch_size=20, shuffle=True, seed=7)
        fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), data, epochs=2, batch_size=20, seed=7,
            verbose=0)
        results.append(_weights(m))
    for k in results[0]:
        np.testing.assert_array_equal(results[0][k], results[1][k])


@pytest.mark.parametrize("batch_size, steps", [(None, 1), (1, 180), (50, 4)])
def test_training_modes_batch_online_minibatch(batch_size, steps):
    Xtr, ytr, _, _ = _data()
    seen = []
    m = _model()
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.05), (Xtr, ytr), epochs=1, batch_size=batch_size,
        verbose=0, callbacks=[LambdaCallback(on_batch_end=lambda b, logs: seen.append(logs["size"]))])
    assert len(seen) == steps and sum(seen) == len(Xtr)


def test_evaluate_is_eval_mode_no_grad_and_restores_mode():
    Xtr, ytr, Xv, yv = _data()
    m = _model(dropout=0.5)
    modes = []
    m.register_forward_hook(lambda mod, inp, out: modes.append((mod.training, neurona.is_grad_enabled())))
    m.train()
    r1 = evaluate(m, nn.CrossEntropyLoss(), (Xv, yv), metrics=["accuracy", "f1"])
    r2 = evaluate(m, nn.CrossEntropyLoss(), DataLoader((Xv, yv), batch_size=7))
    assert set(r1) == {"loss", "accuracy", "f1"}
    assert r1["loss"] == pytest.approx(r2["loss"], rel=1e-5) and r1["accuracy"] == r2["accuracy"]
    assert all(mode == (False, False) for mode in modes)
    assert m.training
    with neurona.no_grad():
        m.eval()
        direct = float(nn.CrossEntropyLoss()(m(neurona.tensor(Xv)), neurona.tensor(yv)).item())
    assert r1["loss"] == pytest.approx(direct, rel=1e-5)
    assert set(evaluate(m, None, (Xv, yv))) == {"accuracy"}


def test_predict_outputs_eval_mode_and_batches():
    _, _, Xv, _ = _data()
    m = _model(dropout=0.5)
    m.train()
    out = predict(m, Xv, batch_size=7)
    assert out.shape == (60, 2) and out.dtype == np.float32 and m.training
    m.eval()
    np.testing.assert_allclose(out, m(neurona.tensor(Xv)).array, rtol=1e-6)
    np.testing.assert_allclose(predict(m, neurona.tensor(Xv)), out)
    np.testing.assert_allclose(predict(m, DataLoader((Xv, np.zeros(60)), batch_size=16)), out)


def test_weight_penalty_is_the_notes_l1_l2_on_weights_only():
    m = _model()
    pen = weight_penalty(l1=0.01, l2=0.1)
    w = [p.array for n, p in m.named_parameters() if n.endswith("weight")]
    expected = 0.01 * sum(np.abs(a).sum() for a in w) + 0.1 / 2 * sum((a * a).sum() for a in w)
    assert float(pen(m).item()) == pytest.approx(expected, rel=1e-5)
    assert weight_penalty() is None
    Xtr, ytr, _, _ = _data()
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (Xtr, ytr), epochs=2, verbose=0,
            penalty=weight_penalty(l2=1.0))
    assert "penalty" in h and h["penalty"][1] < h["penalty"][0]  # strong L2 shrinks the weights
    with pytest.raises(ValueError, match=">= 0"):
        weight_penalty(l2=-1)


def test_gradient_clipping_limits_each_step():
    Xtr, ytr, _, _ = _data()
    m = _model()
    before = _weights(m)
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=1.0), (Xtr, ytr), epochs=1, batch_size=60,
        verbose=0, clip_grad_norm=1e-4)
    total = np.sqrt(sum(((m.state_dict()[k].cpu().numpy() - v) ** 2).sum() for k, v in before.items()))
    assert 0 < total <= 3 * 1e-4 * 1.01  # three steps of norm at most lr * 1e-4


def test_stop_training_from_a_callback_ends_after_the_batch():
    Xtr, ytr, _, _ = _data()
    m = _model()
    batches = []

    def stop(b, logs):
        batches.append(b)
        if b == 2:
            cb.trainer.stop_training = True
            cb.trainer.stop_reason = "enough"

    cb = LambdaCallback(on_batch_end=stop)
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (Xtr, ytr), epochs=5, batch_size=10,
            verbose=0, callbacks=[cb])
    assert batches == [0, 1, 2] and len(h) == 1 and h.stop_reason == "enough"


def test_steps_per_epoch_and_initial_epoch():
    Xtr, ytr, _, _ = _data()
    m = _model()
    seen = []
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (Xtr, ytr), epochs=3, batch_size=10,
            verbose=0, steps_per_epoch=4, initial_epoch=1,
            callbacks=[LambdaCallback(on_batch_end=lambda b, logs: seen.append(b))])
    assert h.epoch == [1, 2] and seen == [0, 1, 2, 3] * 2


def test_verbose_levels(capsys):
    Xtr, ytr, Xv, yv = _data()
    m = _model()
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (Xtr, ytr), val=(Xv, yv), epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (Xtr, ytr), val=(Xv, yv), epochs=2, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("Epoch 1/2") and "val_accuracy" in out[1]


def test_regression_with_mse_and_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    neurona.manual_seed(0)
    m = nn.Linear(3, 1)
    h = fit(m, nn.MSELoss(), optim.SGD(m.parameters(), lr=0.1), (X[:150], y[:150]), val=(X[150:], y[150:]),
            epochs=20, batch_size=16, metrics=["mae", "r2"], verbose=0)
    assert h["val_r2"][-1] > 0.99 and h["val_mae"][-1] < 0.05


def test_clear_errors():
    Xtr, ytr, _, _ = _data()
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="one-shot iterator"):
        fit(m, nn.CrossEntropyLoss(), opt, (b for b in DataLoader((Xtr, ytr), batch_size=8)), verbose=0)
    with pytest.raises(ValueError, match="180 and 10 samples"):
        fit(m, nn.CrossEntropyLoss(), opt, (Xtr, ytr[:10]), verbose=0)
    with pytest.raises(ValueError, match="reduction='mean'"):
        fit(m, nn.CrossEntropyLoss(reduction="none"), opt, (Xtr, ytr), verbose=0)
    with pytest.raises(ValueError, match="metric 'accuracy' failed.*regression"):
        fit(nn.Linear(2, 1), nn.MSELoss(), opt, (Xtr, Xtr[:, :1] * 0.37), verbose=0)
    with pytest.raises(ValueError, match="unknown metric"):
        Trainer(m, nn.CrossEntropyLoss(), opt, metrics=["acuracy"])
    with pytest.raises(TypeError, match="optimizer"):
        fit(m, nn.CrossEntropyLoss(), None, (Xtr, ytr))


def test_fit_scores_the_first_output_of_a_model_with_auxiliary_outputs():
    """Like GoogLeNet in training: forward returns (logits, aux); the loss takes the tuple, metrics the logits."""

    class WithAux(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 16), nn.Tanh())
            self.head, self.aux = nn.Linear(16, 2), nn.Linear(16, 2)

        def forward(self, x):
            h = self.body(x)
            return (self.head(h), self.aux(h)) if self.training else self.head(h)

    def loss(out, y):  # the auxiliary term in training only, as googlenet_loss
        ce = nn.CrossEntropyLoss()
        return ce(out[0], y) + 0.3 * ce(out[1], y) if isinstance(out, tuple) else ce(out, y)

    Xtr, ytr, Xv, yv = _data()
    neurona.manual_seed(0)
    model = WithAux()
    h = fit(model, loss, optim.Adam(model.parameters(), lr=0.05), (Xtr, ytr), val=(Xv, yv), epochs=3,
            batch_size=32, verbose=0, seed=0)
    assert h["accuracy"][-1] > 0.9 and h["val_accuracy"][-1] > 0.9


def test_fit_trains_googlenet_with_auxiliary_classifiers():
    from neurona import models

    neurona.manual_seed(0)
    m = models.GoogLeNet(num_classes=3, in_channels=1, input_size=16, aux_logits=True)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 1, 16, 16)).astype(np.float32), rng.integers(0, 3, 8)
    h = fit(m, models.googlenet_loss, optim.Adam(m.parameters(), lr=1e-3), (x, y), epochs=1, batch_size=8,
            verbose=0)
    assert len(h) == 1 and np.isfinite(h["loss"][0]) and 0.0 <= h["accuracy"][0] <= 1.0
