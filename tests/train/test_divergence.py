"""Divergence is a result: TerminateOnDivergence stops on NaN or a 1000-fold loss, keeps the last good epoch."""
import math

import numpy as np
import pytest

import neurona
from neurona import io, nn, optim
from neurona.train import (EarlyStopping, LambdaCallback, ModelCheckpoint, TerminateOnDivergence, TerminateOnNaN,
                           Trainer, fit)


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _model():
    neurona.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))


def test_a_huge_learning_rate_stops_at_the_batch_that_diverges(capsys):
    X, y = _data()
    m = _model()
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=1e4), (X, y), epochs=5, batch_size=10,
            verbose=0, callbacks=[TerminateOnDivergence()])
    assert h.diverged is not None and h.diverged["epoch"] == 1 and h.diverged["batch"] >= 2
    loss = h.diverged["loss"]
    assert not math.isfinite(loss) or loss > 1000 * h.diverged["start"]
    assert len(h) == 0  # epoch 1 never finished
    err = capsys.readouterr().err
    assert err.count("training diverged at epoch 1, batch") == 1 and "10 times smaller (it is 10000)" in err


def test_a_loss_1000_times_its_start_counts_even_while_finite():
    X, y = _data()
    m = _model()
    scale = {"k": 1.0}

    def loss_fn(out, target):  # a loss that grows tenfold per batch but stays finite, as Adam's at lr 100 does
        scale["k"] *= 10.0
        return nn.functional.cross_entropy(out, target) * scale["k"]

    h = fit(m, loss_fn, optim.SGD(m.parameters(), lr=1e-3), (X, y), epochs=3, batch_size=10, verbose=0,
            callbacks=[TerminateOnDivergence()])
    assert h.diverged["epoch"] == 1 and h.diverged["batch"] == 5  # batch 4 is 1000 times batch 1 (not over)
    assert h.diverged["loss"] > 1000 * h.diverged["start"] and math.isfinite(h.diverged["loss"])
    assert "over 1000 times its first value" in h.stop_reason


def test_nan_only_mode_and_the_factor_argument():
    with pytest.raises(ValueError, match="factor must be > 1"):
        TerminateOnDivergence(factor=0.5)
    assert TerminateOnNaN().factor is None and TerminateOnNaN().state_dict() == {}
    X, y = _data()
    m = _model()
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), (X, y), epochs=3, batch_size=10, verbose=0,
            callbacks=[TerminateOnNaN()])
    assert h.diverged is None and len(h) == 3


def test_the_last_good_epoch_survives_in_checkpoints_and_best_weights(tmp_path):
    X, y = _data()
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.05)

    def poison(batch, logs):  # weights blow up in the middle of epoch 3
        if trainer.epoch == 2 and batch == 3:
            with neurona.no_grad():
                for p in m.parameters():
                    p.array[...] = np.float32(np.nan)

    ckpt = ModelCheckpoint(tmp_path / "last.npz", include_optimizer=True)
    es = EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True, verbose=0)
    trainer = Trainer(m, nn.CrossEntropyLoss(), opt, verbose=0,
                      callbacks=[LambdaCallback(on_batch_begin=poison), es, ckpt, TerminateOnDivergence(verbose=0)])
    h = trainer.fit((X, y), (X[:30], y[:30]), epochs=6, batch_size=10)
    assert h.diverged["epoch"] == 3 and len(h) == 2 and trainer.epochs_done == 2
    saved = io.read_model_file(tmp_path / "last.npz")
    assert saved.header["epoch"] == 2 and all(np.isfinite(w).all() for w in saved.weights.values())
    assert all(np.isfinite(p.array).all() for p in m.parameters())  # early stopping put the best weights back
    assert trainer.state_dict()["diverged"]["epoch"] == 3


def test_the_first_loss_is_kept_across_a_resume():
    cb = TerminateOnDivergence()
    cb.start = 2.5
    other = TerminateOnDivergence()
    other.load_state_dict(cb.state_dict())
    assert other.start == 2.5
