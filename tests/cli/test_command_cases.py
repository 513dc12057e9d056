"""Situations a new user runs into with the ``neurona`` command, each reproduced as it was first met."""
from __future__ import annotations

import csv
import json
import re
import warnings

import numpy as np
import pytest

from neurona import io
from neurona.data import fashion_mnist_small


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# --- divergence -----------------------------------------------------------------------------------------


def test_sgd_at_lr_100_diverges_as_a_result(cli, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow warnings on the way
        r = cli("train", "--data", "xor", "--hidden", "16", "--optimizer", "sgd", "--lr", 100, "--epochs", 5,
                "--name", "d")
    assert r.code == 3 and "Traceback" not in r.err
    assert r.err.count("diverged") == 1 and "diverged" not in r.out  # one message, on stderr
    assert "training diverged at epoch 1, batch" in r.err and "e.g. --lr 10 (it was 100)" in r.err
    run = tmp_path / "runs" / "d"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["diverged"] is True and metrics["diverged_at"]["epoch"] == 1 and metrics["lr"] == 100
    assert (run / "config.json").exists() and (run / "history.csv").exists() and not (run / "model.npz").exists()
    r = cli("train", "--resume", run)  # would repeat the same steps: refused, saying why
    assert r.code == 1 and "this run diverged (epoch 1, batch" in r.err and "e.g. --lr 10" in r.err
    r = cli("evaluate", run)
    assert r.code == 1 and "training diverged before the first epoch finished" in r.err


def test_adam_at_lr_100_no_longer_reports_an_accuracy_silently(cli, tmp_path):
    r = cli("train", "--data", "fashion-mnist-small", "--hidden", "32", "--lr", 100, "--epochs", 2, "--name", "a",
            "--quiet")
    assert r.code == 3 and "over 1000 times its first value" in r.err and "test accuracy" not in r.out
    assert json.loads((tmp_path / "runs/a/metrics.json").read_text())["diverged"] is True


def test_divergence_after_good_epochs_keeps_the_last_good_checkpoint(cli, tmp_path, monkeypatch):
    from neurona.train import loop

    original = loop.Trainer.train_epoch

    def poisoned(self, loader):  # the weights blow up during epoch 3
        if self.epoch == 2:
            for p in self.model.parameters():
                p.array[...] = np.float32(np.nan)
        return original(self, loader)

    monkeypatch.setattr(loop.Trainer, "train_epoch", poisoned)
    r = cli("train", "--data", "xor", "--hidden", "4", "--epochs", 5, "--name", "g", "--quiet")
    assert r.code == 3 and "training diverged at epoch 3, batch 1: the loss became nan" in r.err
    run = tmp_path / "runs" / "g"
    assert io.read_model_file(run / "checkpoint.npz").header["epoch"] == 2
    assert len(list(csv.DictReader(open(run / "history.csv")))) == 2
    assert "keeps what finished: config.json, checkpoint.npz, history.csv, metrics.json" in r.err


# --- flags ----------------------------------------------------------------------------------------------


def test_full_batch_is_spelled_full_and_no_hidden_layer_none(cli, tmp_path):
    r = cli("train", "--data", "xor", "--hidden", "none", "--batch-size", "full", "--epochs", 1, "--name", "n")
    assert r.code == 0 and "model: mlp 2-2 relu (no hidden layer: a linear model)" in r.out and "batch full" in r.out
    assert io.read_model_file(tmp_path / "runs/n/model.npz").config["hidden"] == []


def test_help_shows_single_percent_signs_presets_and_each_commands_defaults(cli):
    for command in ("train", "compare", "boundary", "lr-find", "evaluate", "predict", "prune", "quantize",
                    "distill"):
        r = cli(command, "--help")
        assert r.code == 0 and "%%" not in r.out, command
    train = cli("train", "--help").out
    assert "lenet5" in train and "resnet18" in train and "language-id" in train  # --model lists the presets
    assert "diverged" in train and "(default 20)" in train
    boundary = cli("boundary", "--help").out
    assert "--augment" not in boundary and "--patience" not in boundary and "--lr-schedule" not in boundary
    assert "(default spiral)" in boundary and "fashion-mnist" not in boundary and "(default 200)" in boundary
    quantize = cli("quantize", "--help").out
    assert "--optimizer" not in quantize and "--lr " not in quantize and "--batch-size" not in quantize
    lr_find = " ".join(cli("lr-find", "--help").out.split())
    assert "learning rate of the first batch (default 1e-6)" in lr_find and "(default 200)" in lr_find
    assert "--epochs" not in lr_find and "--patience" not in lr_find


# --- evaluate and predict -------------------------------------------------------------------------------


def _blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    rows = [["u", "v", "kind"]]
    for i in range(n):
        k = i % 3
        rows.append([f"{k + rng.normal() * 0.3:.4f}", f"{-k + rng.normal() * 0.3:.4f}", "abc"[k]])
    return rows


def test_evaluate_without_data_scores_the_test_split_of_a_csv(cli, tmp_path):
    _write_csv(tmp_path / "d.csv", _blobs())
    assert cli("train", "--data", "d.csv", "--target", "kind", "--hidden", 8, "--epochs", 3, "--name", "c",
               "--quiet").code == 0
    metrics = json.loads((tmp_path / "runs/c/metrics.json").read_text())
    r = cli("evaluate", "runs/c")
    assert r.code == 0 and "on d.csv (its test split): 120 samples" in r.out and metrics["test_samples"] == 120
    assert f"accuracy {metrics['test_accuracy']:.4f}" in r.out
    r = cli("evaluate", "runs/c", "--data", "d.csv")
    assert r.code == 0 and "on d.csv (the whole file): 600 samples" in r.out


@pytest.fixture(scope="module")
def fashion_model(tmp_path_factory):
    from neurona.cli import main

    base = tmp_path_factory.mktemp("fm")
    import os

    cwd = os.getcwd()
    os.chdir(base)
    try:
        assert main(["train", "--data", "fashion-mnist-small", "--hidden", "64", "--epochs", "3", "--batch-size",
                     "128", "--name", "fm", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    x, y = fashion_mnist_small("test", warn=False)
    return base / "runs" / "fm", x[:300], y[:300]


def _accuracy(pred_csv, y) -> float:
    rows = list(csv.DictReader(open(pred_csv)))
    return float(np.mean([int(r["class"]) for r in rows] == y))


def test_predict_takes_raw_pixels_on_the_scale_the_model_was_trained_on(cli, tmp_path, fashion_model):
    run, x, y = fashion_model
    np.savez(tmp_path / "unit.npz", x=x.astype(np.float32) / 255)  # the training scale
    assert cli("predict", run, "--input", "unit.npz", "--output", "unit.csv").code == 0
    reference = _accuracy(tmp_path / "unit.csv", y)
    assert reference > 0.7
    _write_csv(tmp_path / "raw.csv", [[f"p{i}" for i in range(784)]] + x.reshape(len(x), -1).tolist())
    np.savez(tmp_path / "raw_float.npz", x=x.astype(np.float32))
    np.savez(tmp_path / "raw_uint8.npz", x=x)
    for name in ("raw.csv", "raw_float.npz", "raw_uint8.npz"):
        r = cli("predict", run, "--input", name, "--output", f"{name}.pred.csv")
        assert r.code == 0, r.err
        if name != "raw_uint8.npz":  # uint8 images are known to be pixels and divided silently
            assert "values from 0 to 255; the model was trained on 0 to 1: divided by 255" in r.out
        assert _accuracy(tmp_path / f"{name}.pred.csv", y) == reference, name
    r = cli("predict", run, "--input", "raw.csv", "--rescale", "no", "--output", "as_is.csv")
    assert r.code == 0 and _accuracy(tmp_path / "as_is.csv", y) < reference  # what --rescale no risks
    np.savez(tmp_path / "odd.npz", x=(x.astype(np.float32) - 128) * 40)  # -5120 ... 5080: no factor fits
    r = cli("predict", run, "--input", "odd.npz")
    assert r.code == 1 and "far outside the range the model was trained on (0 to 1)" in r.err
    assert "--rescale no" in r.err


def test_evaluate_converts_a_raw_pixel_data_set_too(cli, tmp_path, fashion_model):
    run, x, y = fashion_model
    np.savez(tmp_path / "raw.npz", x=x.astype(np.float32), y=y)
    np.savez(tmp_path / "unit.npz", x=x.astype(np.float32) / 255, y=y)
    raw, unit = cli("evaluate", run, "--data", "raw.npz"), cli("evaluate", run, "--data", "unit.npz")
    assert raw.code == unit.code == 0 and "divided by 255" in raw.out and "divided by 255" not in unit.out
    accuracy = [line for line in unit.out.splitlines() if line.startswith("loss ")]
    assert accuracy and accuracy[0] in raw.out


def test_images_are_scaled_and_checked_before_decoding(cli, tmp_path, fashion_model):
    pil = pytest.importorskip("PIL.Image")
    run, x, _ = fashion_model
    pil.fromarray(x[0]).save(tmp_path / "one.png")
    r = cli("predict", run, "--input", "one.png")
    assert r.code == 0 and "one.png:" in r.out and "divided by 255" not in r.out


# --- messages -------------------------------------------------------------------------------------------


def test_resuming_from_a_checkpoint_of_other_shapes_names_the_files(cli, tmp_path):
    _write_csv(tmp_path / "d.csv", _blobs(90))
    assert cli("train", "--data", "d.csv", "--target", "kind", "--hidden", 4, "--epochs", 1, "--name", "r",
               "--quiet").code == 0
    _write_csv(tmp_path / "d.csv", [row[:1] + row[2:] for row in _blobs(90)])  # one column fewer now
    r = cli("train", "--resume", "runs/r", "--epochs", 2)
    assert r.code == 1 and len(r.error_lines) == 1
    assert "runs/r/checkpoint.npz: saved for samples of shape (2,), but the run's data (d.csv) now gives (1,)" in r.err


def test_quantizing_a_gru_says_what_stays_float(cli, tmp_path):
    x, y = fashion_mnist_small("train", warn=False)
    np.savez(tmp_path / "img.npz", x_train=x[:200], y_train=y[:200], x_test=x[200:260], y_test=y[200:260])
    assert cli("train", "--data", "img.npz", "--model", "gru", "--hidden", 16, "--epochs", 1, "--patience", 0,
               "--name", "g", "--quiet").code == 0
    r = cli("quantize", "runs/g", "--calibration-batches", 1, "--name", "q", "--quiet")
    assert r.code == 0 and "only Linear and Conv layers are quantized; GRU (rnn: 2,208 parameters) stays float32" \
        in r.err
    assert "int8, GRU float32 (gemm int32)" in r.out
    meta = io.read_model_file(tmp_path / "runs/q/model.npz").metadata
    assert meta["quantization"]["float32_layers"] == {"rnn": "GRU"}


def test_distill_heads_its_two_training_logs(cli, tmp_path, xor_run):
    r = cli("distill", "--teacher", xor_run, "--hidden", 3, "--epochs", 1, "--name", "d")
    assert r.code == 0
    first = r.out.index("== the student mlp [3], distilled from the teacher (T=2, α=0.5) ==")
    second = r.out.index("== the same student trained alone, from the same initial weights (the baseline) ==")
    assert first < second and r.out[first:second].count("Epoch 1/1") == 1


def test_run_names_do_not_repeat_the_date(cli, tmp_path):
    assert cli("train", "--data", "xor", "--hidden", 4, "--epochs", 1, "--quiet").code == 0
    (source,) = (tmp_path / "runs").iterdir()
    assert cli("prune", source, "--sparsity", 0.5, "--quiet").code == 0
    pruned = [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith("prune-")]
    assert len(pruned) == 1 and pruned[0].startswith("prune-mlp-xor-")
    assert len(re.findall(r"\d{8}-\d{6}", pruned[0])) == 1  # one date-time stamp (not counting "-20": 20:xx is a time)


def test_lr_find_writes_a_run_folder_of_its_own(cli, tmp_path):
    for _ in range(2):
        r = cli("lr-find", "--data", "gaussians", "--hidden", 8, "--num-iter", 30, "--optimizer", "sgd", "--quiet")
        assert r.code == 0 and "suggested learning rate for sgd" in r.out
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2 and all(p.name.startswith("lr-find-sgd-gaussians-") for p in folders)
    assert not list((tmp_path / "runs").glob("*.png"))  # nothing loose in runs/, nothing overwritten
    saved = json.loads((folders[0] / "lr_find.json").read_text())
    assert len(saved["lrs"]) == len(saved["losses"]) and saved["optimizer"] == "sgd"


def test_info_shows_the_learning_rate_used_and_no_empty_container_row(cli, xor_run):
    r = cli("info", xor_run)
    assert r.code == 0 and "lr=0.001 (adam's default)" in r.out and "lr=None" not in r.out
    shapes = r.out[r.out.index("per-layer output shapes"):r.out.index("training metadata")]
    assert "Sequential" not in shapes and "layers.0  Linear" in shapes


# --- small data sets ------------------------------------------------------------------------------------


def test_small_data_sets_stop_on_the_validation_loss_with_enough_validation_samples(cli, tmp_path):
    r = cli("train", "--data", "circle", "--hidden", 64, "--lr", 0.01, "--epochs", 25, "--name", "c")
    assert r.code == 0
    metrics = json.loads((tmp_path / "runs/c/metrics.json").read_text())
    assert metrics["best_monitor"] == "val_loss"  # 80 validation samples: accuracy would stall at its first 1.0
    rows = list(csv.DictReader(open(tmp_path / "runs/c/history.csv")))
    losses = [float(row["val_loss"]) for row in rows]
    best = metrics["best_epoch"]
    assert best == metrics["weights_of_epoch"] and losses[best - 1] <= min(losses) + 1e-3  # the minimum delta
    assert f"restored the weights of epoch {metrics['best_epoch']}" in r.out or metrics["best_epoch"] == len(rows)
    assert metrics["best_epoch"] > 10 and min(losses) < 0.3 * losses[0]  # not stopped at the first plateau


def test_a_tiny_validation_split_grows_or_goes_with_a_notice(cli, tmp_path):
    _write_csv(tmp_path / "iris_like.csv", _blobs(150))
    r = cli("train", "--data", "iris_like.csv", "--target", "kind", "--hidden", 4, "--epochs", 1, "--name", "i")
    assert r.code == 0 and "validation split: 30 of the 120 training samples (not 12)" in r.out
    assert "90 training, 30 validation, 30 test samples" in r.out
    r = cli("train", "--data", "xor", "--samples", 50, "--hidden", 4, "--epochs", 1, "--name", "x")
    assert r.code == 0 and "only 40 training samples: no validation split, so no early stopping" in r.out
    r = cli("train", "--data", "iris_like.csv", "--target", "kind", "--val-split", 0.1, "--hidden", 4, "--epochs", 1,
            "--name", "explicit")
    assert r.code == 0 and "108 training, 12 validation" in r.out  # a split asked for is a split given


def test_metrics_best_epoch_is_the_epoch_whose_weights_were_kept(cli, tmp_path):
    r = cli("train", "--data", "fashion-mnist-small", "--hidden", "32", "--epochs", 6, "--patience", 2,
            "--monitor", "val_accuracy", "--lr", 0.01, "--name", "b")
    assert r.code == 0
    metrics = json.loads((tmp_path / "runs/b/metrics.json").read_text())
    rows = list(csv.DictReader(open(tmp_path / "runs/b/history.csv")))
    best = 1 + int(np.argmax([float(row["val_accuracy"]) for row in rows]))
    assert metrics["best_monitor"] == "val_accuracy" and metrics["best_epoch"] == best == metrics["weights_of_epoch"]


def test_plots_name_what_they_mark(tmp_path):
    pytest.importorskip("matplotlib")
    from neurona import plot

    history = {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7], "accuracy": [0.5, 0.7, 0.8],
               "val_accuracy": [0.4, 0.6, 0.65]}
    fig = plot.learning_curves(history, best_epoch=2, best_label="best val_loss")
    for ax in fig.axes:
        assert "best val_loss (epoch 2)" in [t.get_text() for t in ax.get_legend().get_texts()]
    fig = plot.learning_curves(history)
    texts = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert "best val_loss (epoch 2)" in texts and "best val_accuracy (epoch 3)" in texts
    fig = plot.confusion_matrix(np.array([[3, 1], [0, 4]]), ["a", "b"])
    assert any(ax.get_ylabel() == "fraction of the true class" for ax in fig.axes)
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    fig = plot.decision_boundary(lambda P: np.stack([-P[:, 0], P[:, 0]], 1), X, y, class_names=["left", "right"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["left", "right"]


def test_a_grown_validation_split_is_the_same_when_resumed(cli, tmp_path):
    common = ["--data", "spiral", "--samples", 150, "--hidden", 8, "--batch-size", 16, "--lr", 0.01, "--quiet"]
    assert cli("train", *common, "--epochs", 2, "--name", "a").code == 0
    assert cli("train", "--resume", "runs/a", "--epochs", 4).code == 0
    assert cli("train", *common, "--epochs", 4, "--name", "b").code == 0
    assert json.loads((tmp_path / "runs/a/config.json").read_text())["options"]["min_val_samples"] == 30
    wa, wb = (io.read_model_file(tmp_path / f"runs/{n}/model.npz").weights for n in "ab")
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
