"""Callbacks: hook order, early stopping, checkpoints, CSV log, progress display, lr schedules, NaN guard."""
import csv
import io as _io
import math

import numpy as np
import pytest

import neurona
from neurona import nn, optim
from neurona.data import make_gaussians
from neurona.optim import lr_scheduler
from neurona.train import (Callback, CSVLogger, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
                           ModelCheckpoint, ProgressBar, TerminateOnNaN, Trainer, fit)


def _data():
    X, y = make_gaussians(200, noise=0.1, seed=0)
    return (X[:150], y[:150]), (X[150:], y[150:])


def _model(seed=0):
    neurona.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


class _Scripted(Callback):
    """Feeds a fixed sequence of val_loss values into the logs, one per epoch, before the callbacks after it."""

    def __init__(self, values):
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_hooks_run_in_order_with_logs():
    train, val = _data()
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None): events.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): events.append(f"epoch_begin {epoch}")
        def on_batch_begin(self, batch, logs=None): events.append(f"batch_begin {batch}")
        def on_batch_end(self, batch, logs=None):
            assert {"loss", "accuracy", "batch_loss", "size"} <= set(logs)
            events.append(f"batch_end {batch}")
        def on_epoch_end(self, epoch, logs=None):
            assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"} <= set(logs)
            assert self.model is m and self.trainer.epoch == epoch
            events.append(f"epoch_end {epoch}")
        def on_train_end(self, logs=None): events.append("train_end")

    m = _model()
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, val=val, epochs=2, batch_size=100,
        verbose=0, callbacks=[Recorder()])
    assert events == ["train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0", "batch_begin 1", "batch_end 1",
                      "epoch_end 0", "epoch_begin 1", "batch_begin 0", "batch_end 0", "batch_begin 1",
                      "batch_end 1", "epoch_end 1", "train_end"]


def test_early_stopping_patience_min_delta_and_restore():
    train, _ = _data()
    m = _model()
    snapshots = []
    es = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01, verbose=0)
    keep = LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(m.state_dict()))
    # epoch 1 is the best; epoch 2 improves by less than min_delta; epochs 2 and 3 use up the patience
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, epochs=10, verbose=0,
            callbacks=[_Scripted([1.0, 0.5, 0.495, 0.6, 0.1, 0.1]), es, keep])
    assert len(h) == 4 and es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.5
    assert "early stopping at epoch 4" in h.stop_reason and "epoch 2" in h.stop_reason
    for k, v in snapshots[1].items():  # the weights of the best epoch are back
        np.testing.assert_array_equal(m.state_dict()[k], v)


def test_early_stopping_modes_and_missing_monitor():
    assert EarlyStopping("val_accuracy").mode == "max"
    assert EarlyStopping("val_loss").mode == "min"
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    train, _ = _data()
    m = _model()
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the logs.*pass val="):
        h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, epochs=2, verbose=0,
                callbacks=[EarlyStopping(patience=1)])
    assert len(h) == 2


def test_early_stopping_state_round_trip():
    es = EarlyStopping(patience=3)
    es.load_state_dict({"best": 0.3, "wait": 2, "best_epoch": 4, "stopped_epoch": None,
                        "best_weights": {"w": np.ones(2)}})
    s = es.state_dict()
    assert s["best"] == 0.3 and s["wait"] == 2 and s["best_epoch"] == 4
    np.testing.assert_array_equal(s["best_weights"]["w"], np.ones(2))


def test_model_checkpoint_best_only_and_file_names(tmp_path):
    train, val = _data()
    m = _model()
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.npz", save_best_only=False)
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    full = ModelCheckpoint(tmp_path / "ckpt.npz", include_optimizer=True)
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, epochs=4, verbose=0,
        callbacks=[_Scripted([0.9, 0.4, 0.7, 0.8]), every, best, full])
    names = sorted(p.name for p in tmp_path.glob("m-*.npz"))
    assert names == ["m-01-0.90.npz", "m-02-0.40.npz", "m-03-0.70.npz", "m-04-0.80.npz"]
    assert best.best == 0.4
    f = neurona.io.read_model_file(tmp_path / "best.npz")
    assert f.metadata["epoch"] == 2 and f.metadata["logs"]["val_loss"] == 0.4
    ck = neurona.io.read_model_file(tmp_path / "ckpt.npz")
    assert ck.kind == "checkpoint" and ck.header["epoch"] == 4
    with pytest.raises(ValueError, match="cannot fill the file name"):
        ModelCheckpoint(tmp_path / "{nothing}.npz")._path(0, {"loss": 1.0})


def test_csv_logger_rows_and_append(tmp_path):
    train, val = _data()
    m = _model()
    path = tmp_path / "log.csv"
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, val=val, epochs=2, verbose=0,
        callbacks=[CSVLogger(path)])
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, val=val, epochs=3, initial_epoch=2,
        verbose=0, callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.reader(open(path)))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and "val_loss" in rows[0]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    assert all(math.isfinite(float(x)) for x in rows[1][1:])


class _Stream(_io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def _run_with_bar(stream, verbose=1):
    train, val = _data()
    m = _model()
    bar = ProgressBar(verbose=verbose, stream=stream, refresh=0.0)
    fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, val=val, epochs=2, batch_size=50,
        verbose=verbose, callbacks=[bar])
    return stream.getvalue()


def test_progress_bar_on_a_terminal_rewrites_the_line():
    out = _run_with_bar(_Stream(True))
    assert "\r" in out
    assert "3/3 [" in out and "ETA" in out and "loss" in out and "accuracy" in out
    lines = [ln for ln in out.split("\n") if ln.strip()]
    assert len(lines) == 2 and "val_loss" in lines[1]


def test_progress_bar_plain_lines_when_not_a_terminal_and_silent_at_verbose_0():
    out = _run_with_bar(_Stream(False))
    assert "\r" not in out and "[" not in out
    lines = out.strip().split("\n")
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "val_accuracy" in lines[0]
    assert _run_with_bar(_Stream(True), verbose=0) == ""
    assert "\r" not in _run_with_bar(_Stream(True), verbose=2)


def test_learning_rate_scheduler_step_plateau_and_function():
    train, val = _data()
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    h = fit(m, nn.CrossEntropyLoss(), opt, train, epochs=4, verbose=0,
            callbacks=[LearningRateScheduler(lr_scheduler.StepLR(opt, step_size=2, gamma=0.1))])
    np.testing.assert_allclose(h["lr"], [0.1, 0.1, 0.01, 0.01])

    opt = optim.SGD(m.parameters(), lr=0.1)
    sched = LearningRateScheduler(lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0))
    assert sched.plateau and sched.monitor == "val_loss"
    h = fit(m, nn.CrossEntropyLoss(), opt, train, epochs=4, verbose=0,
            callbacks=[_Scripted([1.0, 1.0, 0.5, 0.6]), sched])
    np.testing.assert_allclose(h["lr"], [0.1, 0.1, 0.05, 0.05])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)

    opt = optim.SGD(m.parameters(), lr=0.1)
    h = fit(m, nn.CrossEntropyLoss(), opt, train, epochs=3, verbose=0,
            callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    np.testing.assert_allclose(h["lr"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's "invalid value" while computing with inf
def test_terminate_on_nan_names_epoch_and_batch(capsys):
    train, _ = _data()
    m = _model()
    calls = []

    def poison(b, logs):  # make the weights blow up during the second epoch
        calls.append(b)
        if cb.trainer.epoch == 1 and b == 1:
            with neurona.no_grad():
                for p in m.parameters():
                    p.array[...] = np.float32(np.inf)

    cb = LambdaCallback(on_batch_begin=poison)
    h = fit(m, nn.CrossEntropyLoss(), optim.SGD(m.parameters(), lr=0.1), train, epochs=5, batch_size=30,
            verbose=0, callbacks=[cb, TerminateOnNaN()])
    captured = capsys.readouterr()
    assert "epoch 2, batch 2" in captured.err and "nan" in captured.err.lower()
    assert captured.err.count("diverged") == 1 and "diverged" not in captured.out  # said once, on stderr
    # the unfinished epoch 2 is dropped: the history (and any checkpoint) ends at the last good epoch
    assert len(h) == 1 and "epoch 2, batch 2" in h.stop_reason
    assert h.diverged["epoch"] == 2 and h.diverged["batch"] == 2
    assert calls == [0, 1, 2, 3, 4, 0, 1]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_epoch_finish=print)


def test_trainer_state_round_trip_restores_history_and_callbacks():
    train, val = _data()
    m = _model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    es = EarlyStopping(patience=5)
    t = Trainer(m, nn.CrossEntropyLoss(), opt, callbacks=[es], verbose=0)
    t.fit(train, val, epochs=2)
    state = t.state_dict()
    assert state["epochs_done"] == 2 and "EarlyStopping:0" in state["callbacks"]
    es2 = EarlyStopping(patience=5)
    t2 = Trainer(m, nn.CrossEntropyLoss(), opt, callbacks=[es2], verbose=1)  # a progress bar does not matter
    t2.load_state_dict(state)
    assert len(t2.history) == 2 and es2.best == es.best and es2.wait == es.wait and t2.resuming
    h = t2.fit(train, val, epochs=3, initial_epoch=2)
    assert h.epoch == [0, 1, 2]
    with pytest.raises(ValueError, match="callback CSVLogger:0"):
        Trainer(m, nn.CrossEntropyLoss(), opt, verbose=0).load_state_dict(
            {**state, "callbacks": {"CSVLogger:0": {"x": 1}}})


def test_history_csv_and_state(tmp_path):
    h = History()
    h.on_epoch_end(0, {"loss": 1.0})
    h.on_epoch_end(1, {"loss": 0.5, "val_loss": 0.7})  # a name appearing late is padded with NaN
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1] == 0.7
    h.to_csv(tmp_path / "h.csv")
    rows = list(csv.reader(open(tmp_path / "h.csv")))
    assert rows == [["epoch", "loss", "val_loss"], ["1", "1.0", "nan"], ["2", "0.5", "0.7"]]
    h2 = History()
    h2.load_state_dict(h.state_dict())
    assert h2.epoch == [0, 1] and h2["loss"] == [1.0, 0.5]
