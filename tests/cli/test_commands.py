"""The `neurona` command, called in-process (plus one subprocess smoke test)."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neurona
from neurona import io
from neurona.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--data", "fashion-mnist-small", "--hidden", "32", "--batch-size", "256"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def run(*args) -> int:
    return main([str(a) for a in args])


def _weights(path):
    f = io.read_model_file(path)
    return f.weights


def test_train_writes_a_complete_run(tmp_path, capsys):
    assert run("train", *SMALL, "--epochs", 2, "--name", "r", "--quiet") == 0
    out = capsys.readouterr().out
    r = tmp_path / "runs" / "r"
    assert "test accuracy: 0." in out and "run files in runs/r/" in out and "Epoch" not in out
    for name in ("model.npz", "checkpoint.npz", "config.json", "metrics.json", "history.csv", "learning_curves.png",
                 "confusion_matrix.png"):
        assert (r / name).is_file(), name
    metrics = json.loads((r / "metrics.json").read_text())
    assert 0.5 < metrics["test_accuracy"] <= 1 and metrics["test_samples"] == 1000 and metrics["embedded_subset"]
    assert np.array(metrics["confusion_matrix"]).sum() == 1000 and len(metrics["per_class"]) == 10
    rows = list(csv.DictReader(open(r / "history.csv")))
    assert [row["epoch"] for row in rows] == ["1", "2"] and "val_accuracy" in rows[0]
    f = io.read_model_file(r / "model.npz")
    assert f.model_name == "mlp" and f.config["hidden"] == [32] and f.config["in_features"] == 784
    assert f.metadata["dataset"] == "fashion-mnist-small" and f.metadata["class_names"][0] == "T-shirt/top"
    assert f.metadata["input_shape"] == [1, 28, 28] and type(f.preprocessing).__name__ == "Standardizer"
    assert f.metadata["test"]["test_accuracy"] == metrics["test_accuracy"]
    opts = json.loads((r / "config.json").read_text())["options"]
    assert opts["optimizer"] == "adam" and opts["patience"] == 5 and opts["val_split"] == 0.1


def test_defaults_are_the_notes_recommendation():
    from neurona.cli.options import TRAIN_DEFAULTS

    assert TRAIN_DEFAULTS["model"] == "mlp" and TRAIN_DEFAULTS["hidden"] == "300,100"
    assert TRAIN_DEFAULTS["activation"] == "relu" and TRAIN_DEFAULTS["optimizer"] == "adam"
    assert TRAIN_DEFAULTS["lr"] is None and TRAIN_DEFAULTS["batch_size"] == 128 and TRAIN_DEFAULTS["epochs"] == 20
    assert TRAIN_DEFAULTS["data"] == "fashion-mnist" and TRAIN_DEFAULTS["standardize"]
    assert TRAIN_DEFAULTS["patience"] == 5 and TRAIN_DEFAULTS["val_split"] == 0.1
    assert TRAIN_DEFAULTS["monitor"] == "auto" and TRAIN_DEFAULTS["lr_schedule"] == "plateau"


def test_progress_lines_when_not_a_terminal(capsys):
    assert run("train", "--data", "gaussians", "--hidden", 8, "--epochs", 2, "--name", "p") == 0
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "val_loss" in out and "\r" not in out
    assert "data: gaussians" in out and "model: mlp 2-8-2 relu" in out


def test_resume_4_plus_4_epochs_equals_8_uninterrupted(tmp_path):
    common = ["--data", "spiral", "--samples", 400, "--hidden", "16,16", "--dropout", 0.2, "--batch-size", 32,
              "--lr", 0.01, "--patience", 10, "--quiet"]
    assert run("train", *common, "--epochs", 4, "--name", "a") == 0
    assert run("train", "--resume", "runs/a", "--epochs", 8, "--quiet") == 0
    assert run("train", *common, "--epochs", 8, "--name", "b") == 0
    for name in ("model.npz", "checkpoint.npz"):
        wa, wb = _weights(tmp_path / "runs/a" / name), _weights(tmp_path / "runs/b" / name)
        assert list(wa) == list(wb)
        for k in wa:
            np.testing.assert_array_equal(wa[k], wb[k])
    ha = list(csv.DictReader(open(tmp_path / "runs/a/history.csv")))
    hb = list(csv.DictReader(open(tmp_path / "runs/b/history.csv")))
    assert len(ha) == len(hb) == 8
    assert [r["val_loss"] for r in ha] == [r["val_loss"] for r in hb]
    assert io.read_model_file(tmp_path / "runs/a/checkpoint.npz").header["epoch"] == 8


def test_resume_with_augmentation_and_early_stopping_state(tmp_path):
    common = [*SMALL, "--hidden", 16, "--augment", "--dropout", 0.1, "--lr-schedule", "plateau", "--quiet"]
    assert run("train", *common, "--epochs", 1, "--name", "a") == 0
    assert run("train", "--resume", "runs/a", "--epochs", 2, "--quiet") == 0
    assert run("train", *common, "--epochs", 2, "--name", "b") == 0
    wa, wb = _weights(tmp_path / "runs/a/model.npz"), _weights(tmp_path / "runs/b/model.npz")
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])


def test_resume_messages_and_refusals(tmp_path, capsys):
    assert run("train", "--data", "xor", "--hidden", 4, "--epochs", 1, "--name", "x", "--quiet") == 0
    capsys.readouterr()
    assert run("train", "--resume", "runs/x") == 0  # nothing more to do: says so, rewrites the results
    assert "already trained 1 epochs" in capsys.readouterr().out
    assert run("train", "--data", "xor", "--name", "x", "--quiet") == 1
    assert "already holds a run" in capsys.readouterr().err
    assert run("train", "--resume", "runs/none") == 1
    assert "no checkpoint.npz" in capsys.readouterr().err
    assert run("train", "--resume", "runs/x", "--epochs", 3, "--lr", 0.5, "--hidden", 9) == 1
    assert "only --epochs and --quiet may be given with it, got --hidden, --lr" in capsys.readouterr().err
    # a model file from a different architecture: the run's config was edited by hand
    cfg = tmp_path / "runs/x/config.json"
    data = json.loads(cfg.read_text())
    data["options"]["hidden"] = [5]
    cfg.write_text(json.dumps(data))
    before = (tmp_path / "runs/x/checkpoint.npz").read_bytes()
    assert run("train", "--resume", "runs/x", "--epochs", 3) == 1
    err = capsys.readouterr().err
    assert "runs/x/checkpoint.npz" in err and "different architecture" in err and "(4, 2)" in err
    assert (tmp_path / "runs/x/checkpoint.npz").read_bytes() == before
    (tmp_path / "runs/x/checkpoint.npz").write_bytes(before[: len(before) // 2])  # a disk that filled up
    assert run("train", "--resume", "runs/x", "--epochs", 3) == 1
    assert "runs/x/checkpoint.npz: truncated or corrupted" in capsys.readouterr().err


def _without_matplotlib(monkeypatch):
    """Make every `import matplotlib...` fail, as on a machine without the plot extra."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)


def test_plots_are_skipped_without_matplotlib(tmp_path, capsys, monkeypatch):
    _without_matplotlib(monkeypatch)
    assert not neurona.plot.available()
    assert run("train", "--data", "circle", "--hidden", 4, "--epochs", 1, "--name", "np", "--quiet") == 0
    captured = capsys.readouterr()
    assert "plots skipped: matplotlib is not installed" in captured.err and "test accuracy" in captured.out
    r = tmp_path / "runs/np"
    assert not list(r.glob("*.png"))
    for name in ("model.npz", "checkpoint.npz", "metrics.json", "history.csv"):
        assert (r / name).is_file(), name
    assert run("evaluate", r, "--confusion", "cm.png") == 0
    assert "plots skipped" in capsys.readouterr().err and not (tmp_path / "cm.png").exists()
    assert run("boundary", "--data", "xor") == 1
    assert "needs matplotlib" in capsys.readouterr().err
    with pytest.raises(neurona.plot.PlotUnavailable, match=r"pip install 'neurona\[plot\]'"):
        neurona.plot.learning_curves({"loss": [1.0]})


def test_missing_fashion_mnist_falls_back_loudly(tmp_path, capsys, monkeypatch):
    from neurona.data import fashion

    monkeypatch.setenv("NEURONA_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(fashion, "SYSTEM_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(fashion, "cache_dir", lambda: tmp_path / "cache")

    def offline(*a, **k):
        raise OSError("no network")

    monkeypatch.setattr(fashion, "_urlopen", offline)
    assert run("train", "--hidden", 8, "--epochs", 1, "--batch-size", 512, "--name", "fb", "--quiet") == 0
    captured = capsys.readouterr()
    assert "SMALL EMBEDDED SUBSET" in captured.err and "apt-get install -y dataset-fashion-mnist" in captured.err
    assert "[embedded subset]" in captured.out
    assert json.loads((tmp_path / "runs/fb/metrics.json").read_text())["embedded_subset"] is True


@pytest.fixture
def small_run(tmp_path):
    assert run("train", *SMALL, "--epochs", 1, "--name", "s", "--quiet") == 0
    return tmp_path / "runs" / "s"


def test_evaluate_info_and_predict(small_run, tmp_path, capsys):
    capsys.readouterr()
    assert run("evaluate", small_run, "--confusion", "cm.png") == 0
    out = capsys.readouterr().out
    assert "accuracy 0." in out and "T-shirt/top" in out and "macro avg" in out and (tmp_path / "cm.png").exists()
    acc = json.loads((small_run / "metrics.json").read_text())["test_accuracy"]
    assert f"accuracy {acc:.4f}" in out

    assert run("info", small_run / "model.npz") == 0
    out = capsys.readouterr().out
    assert "model: mlp" in out and "layers.0" in out and "25,120" in out  # 784*32 + 32 parameters
    assert "total learnable parameters" in out and "25,450" in out and "dataset: fashion-mnist-small" in out
    assert run("info", small_run / "checkpoint.npz") == 0
    assert "checkpoint: epoch 1, optimizer Adam" in capsys.readouterr().out

    from neurona.data import fashion_mnist_small

    x, y = fashion_mnist_small("test", warn=False)
    np.savez(tmp_path / "five.npz", x=x[:5])
    assert run("predict", small_run, "--input", "five.npz", "--output", "pred.csv") == 0
    out = capsys.readouterr().out
    assert out.count("sample ") == 5 and "5 predictions written to pred.csv" in out
    rows = list(csv.DictReader(open(tmp_path / "pred.csv")))
    assert len(rows) == 5 and set(rows[0]) == {"index", "class", "name", "probability"}

    mpimg = pytest.importorskip("matplotlib.image")
    mpimg.imsave(tmp_path / "shoe.png", x[0], cmap="gray", vmin=0, vmax=255)
    assert run("predict", small_run, "--input", "shoe.png") == 0
    assert "shoe.png:" in capsys.readouterr().out
    mpimg.imsave(tmp_path / "light.png", 255 - x[0], cmap="gray", vmin=0, vmax=255)
    assert run("predict", small_run, "--input", "light.png") == 0
    assert "light background detected" in capsys.readouterr().out
    mpimg.imsave(tmp_path / "big.png", np.zeros((32, 40)), cmap="gray")
    assert run("predict", small_run, "--input", "big.png") == 1
    assert "big.png: the image is 40×32 pixels; this model expects 28×28" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 30)))
    assert run("predict", small_run, "--input", "bad.npz") == 1
    assert "samples of shape (30,), but the model expects (1, 28, 28)" in capsys.readouterr().err


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def _iris_like(n=60):
    rng = np.random.default_rng(0)
    rows = [["a", "b", "species"]]
    for i in range(n):
        k = i % 3
        rows.append([f"{k + rng.normal() * 0.1:.3f}", f"{-k + rng.normal() * 0.1:.3f}", ["x", "y", "z"][k]])
    return rows


def test_csv_data_train_predict_and_bad_files(tmp_path, capsys):
    _csv(tmp_path / "d.csv", _iris_like())
    assert run("train", "--data", "d.csv", "--target", "species", "--hidden", 8, "--epochs", 30, "--lr", 0.05,
               "--batch-size", 16, "--name", "c", "--quiet") == 0
    assert "test accuracy: 1.0000" in capsys.readouterr().out
    f = io.read_model_file(tmp_path / "runs/c/model.npz")
    assert f.metadata["class_names"] == ["x", "y", "z"] and f.metadata["feature_names"] == ["a", "b"]
    _csv(tmp_path / "new.csv", [["b", "a"], ["-2.0", "2.0"], ["0.0", "0.0"]])  # columns in another order
    assert run("predict", "runs/c", "--input", "new.csv") == 0
    out = capsys.readouterr().out
    assert "sample 0: z" in out and "sample 1: x" in out
    _csv(tmp_path / "nan.csv", [["a", "b"], ["1", ""]])
    assert run("predict", "runs/c", "--input", "nan.csv") == 1
    assert "nan.csv, row 2, column 'b'" in capsys.readouterr().err

    bad = _iris_like(20)
    bad[7][1] = "seven"
    _csv(tmp_path / "bad.csv", bad)
    assert run("train", "--data", "bad.csv", "--target", "species", "--name", "bad", "--quiet") == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 8" in err and "'b'" in err and "seven" in err
    assert run("train", "--data", "d.csv", "--target", "kind", "--name", "bad", "--quiet") == 1
    assert "no column 'kind'; available columns: a, b, species" in capsys.readouterr().err
    nan = _iris_like(20)
    nan[4][0] = "NaN"
    _csv(tmp_path / "nan2.csv", nan)
    assert run("train", "--data", "nan2.csv", "--target", "species", "--name", "bad", "--quiet") == 1
    err = capsys.readouterr().err
    assert "nan2.csv" in err and "row 5" in err and "'a'" in err
    assert run("train", "--data", "d.csv", "--name", "bad") == 1
    assert "needs --target" in capsys.readouterr().err
    assert not (tmp_path / "runs/bad").exists()  # nothing half-written


def test_regression_on_a_csv(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = 3 * X[:, 0] - X[:, 1] + 10
    _csv(tmp_path / "r.csv", [["u", "v", "t"]] + [[f"{a:.4f}", f"{b:.4f}", f"{c:.4f}"] for (a, b), c in zip(X, y)])
    assert run("train", "--data", "r.csv", "--target", "t", "--hidden", 16, "--epochs", 40, "--lr", 0.01,
               "--batch-size", 16, "--name", "reg", "--quiet") == 0
    out = capsys.readouterr().out
    metrics = json.loads((tmp_path / "runs/reg/metrics.json").read_text())
    assert metrics["task"] == "regression" and metrics["test_r2"] > 0.95 and "R²" in out
    assert run("evaluate", "runs/reg", "--data", "r.csv", "--target", "t") == 0
    assert "R² 0.9" in capsys.readouterr().out


def test_evaluate_on_data_of_another_shape_fails_clearly(tmp_path, capsys):
    assert run("train", "--data", "xor", "--hidden", 4, "--epochs", 1, "--name", "x", "--quiet") == 0
    np.savez(tmp_path / "three.npz", x=np.zeros((20, 3), np.float32), y=np.zeros(20, np.int64))
    capsys.readouterr()
    assert run("evaluate", "runs/x", "--data", "three.npz") == 1
    assert "samples of shape (3,), but runs/x/model.npz expects (2,)" in capsys.readouterr().err
    assert run("train", "--data", "nosuchset", "--name", "y") == 1
    assert "not a known data set" in capsys.readouterr().err


def test_compare_optimizers_and_activations(tmp_path, capsys):
    assert run("compare", "--optimizers", "sgd,momentum,adam", "--data", "gaussians", "--hidden", 8, "--epochs", 2,
               "--name", "co", "--quiet") == 0
    out = capsys.readouterr().out
    assert "momentum" in out and "test_accuracy" in out
    res = json.loads((tmp_path / "runs/co/compare.json").read_text())["results"]
    assert set(res) == {"sgd", "momentum", "adam"} and res["sgd"]["lr"] == 0.01 and res["adam"]["lr"] == 0.001
    assert (tmp_path / "runs/co/compare.png").exists() and (tmp_path / "runs/co/history_adam.csv").exists()
    assert run("compare", "--activations", "relu,tanh", "--data", "circle", "--hidden", 8, "--epochs", 1,
               "--name", "ca", "--quiet") == 0
    assert set(json.loads((tmp_path / "runs/ca/compare.json").read_text())["results"]) == {"relu", "tanh"}
    assert run("compare", "--data", "circle") == 1
    assert "exactly one of --optimizers" in capsys.readouterr().err
    assert run("compare", "--optimizers", "sgd,lion", "--data", "circle") == 1
    assert "unknown optimizer 'lion'" in capsys.readouterr().err


def test_boundary_and_lr_find(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert run("boundary", "--data", "xor", "--hidden", 8, "--epochs", 5, "--name", "bd", "--quiet") == 0
    out = capsys.readouterr().out
    assert "decision regions written to runs/bd/boundary.png" in out
    assert (tmp_path / "runs/bd/boundary.png").stat().st_size > 5000
    assert run("boundary", "--model-file", "runs/bd", "--output", "again.png") == 0
    assert (tmp_path / "again.png").exists()
    capsys.readouterr()
    assert run("boundary", "--data", "iris") == 1
    assert "needs a 2-D classification data set" in capsys.readouterr().err
    assert run("lr-find", "--data", "gaussians", "--hidden", 8, "--num-iter", 40, "--optimizer", "sgd",
               "--output", "lr.png", "--quiet") == 0
    out = capsys.readouterr().out
    assert "suggested learning rate for sgd" in out and (tmp_path / "lr.png").exists()


def test_help_and_argument_errors(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out
    assert main(["train", "--batch-size", "zero"]) == 2  # returned, not raised: one line on stderr
    err = capsys.readouterr().err
    assert err == ("neurona train: error: argument --batch-size: expected a positive integer or 'full', got 'zero' "
                   "(see neurona train --help)\n")
    assert main(["--version"]) == 0
    assert neurona.__version__ in capsys.readouterr().out


def test_subprocess_smoke(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "neurona.cli", "train", "--data", "xor", "--hidden", "4",
                           "--epochs", "1", "--quiet", "--name", "sp"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and (tmp_path / "runs/sp/model.npz").exists()


def _optimizer_state(path):
    return io.read_model_file(path).decode("optimizer")


def test_train_flags_take_effect(tmp_path):
    assert run("train", "--data", "circle", "--samples", 200, "--noise", 0.2, "--val-split", 0.2, "--hidden", "6,5",
               "--activation", "tanh", "--batch-norm", "--dropout", 0.1, "--optimizer", "rmsprop", "--lr", 0.05,
               "--momentum", 0.8, "--weight-decay", 1e-4, "--l1", 1e-5, "--l2", 1e-4, "--clip-grad", 1.0,
               "--lr-schedule", "step", "--batch-size", "full", "--epochs", 3, "--patience", 2, "--monitor",
               "val_loss", "--no-standardize", "--seed", 3, "--out", "elsewhere", "--name", "f", "--quiet") == 0
    r = tmp_path / "elsewhere" / "f"
    opts = json.loads((r / "config.json").read_text())["options"]
    expected = {"hidden": [6, 5], "activation": "tanh", "batch_norm": True, "dropout": 0.1, "optimizer": "rmsprop",
                "lr": 0.05, "momentum": 0.8, "weight_decay": 1e-4, "l1": 1e-5, "l2": 1e-4, "clip_grad": 1.0,
                "lr_schedule": "step", "batch_size": None, "epochs": 3, "patience": 2, "monitor": "val_loss",
                "standardize": False, "seed": 3, "val_split": 0.2, "samples": 200, "noise": 0.2}
    assert {k: opts[k] for k in expected} == expected
    f = io.read_model_file(r / "model.npz")
    assert {k: f.config[k] for k in ("hidden", "activation", "batch_norm", "dropout")} == \
        {"hidden": [6, 5], "activation": "tanh", "batch_norm": True, "dropout": 0.1}
    assert f.preprocessing is None  # --no-standardize
    opt = _optimizer_state(r / "checkpoint.npz")
    group = opt["state"]["param_groups"][0]
    assert opt["class"] == "RMSprop" and group["momentum"] == 0.8 and group["weight_decay"] == 1e-4
    assert all(int(s["step"]) == 3 for s in opt["state"]["state"].values())  # full batch: one update per epoch
    rows = list(csv.DictReader(open(r / "history.csv")))
    np.testing.assert_allclose([float(row["lr"]) for row in rows], [0.05, 0.005, 0.0005], rtol=1e-6)  # step ÷10
    assert all(float(row["penalty"]) > 0 for row in rows)  # --l1/--l2 add a logged penalty
    assert json.loads((r / "metrics.json").read_text())["test_samples"] == 40  # 200 points, 20 % test


def test_online_mode_and_seed(tmp_path):
    for name, seed in (("o1", 1), ("o2", 2)):
        assert run("train", "--data", "xor", "--samples", 50, "--hidden", 4, "--batch-size", 1, "--epochs", 1,
                   "--seed", seed, "--name", name, "--quiet") == 0
    # 50 points: 10 test and 40 training samples, one update each; too few to hold out a validation split of 30
    opt = _optimizer_state(tmp_path / "runs/o1/checkpoint.npz")
    assert all(int(s["step"]) == 40 for s in opt["state"]["state"].values())
    w1, w2 = _weights(tmp_path / "runs/o1/model.npz"), _weights(tmp_path / "runs/o2/model.npz")
    assert not np.array_equal(w1["layers.0.weight"], w2["layers.0.weight"])


def test_standardizer_is_fitted_on_the_training_split_only(tmp_path):
    from neurona.data import load_dataset as load_data

    assert run("train", "--data", "gaussians", "--samples", 300, "--hidden", 4, "--epochs", 1, "--seed", 5,
               "--name", "st", "--quiet") == 0
    sc = io.read_model_file(tmp_path / "runs/st/model.npz").preprocessing
    data = load_data("gaussians", samples=300, seed=5, noise=0.1, val_split=0.1, min_val_samples=30)
    np.testing.assert_allclose(sc.mean.ravel(), data.X_train.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(sc.var.ravel(), data.X_train.astype(np.float64).var(axis=0, ddof=1), rtol=1e-6)
    everything = np.concatenate([data.X_train, data.X_val, data.X_test]).astype(np.float64)
    assert not np.allclose(sc.mean.ravel(), everything.mean(axis=0), rtol=1e-6)


def test_augmentation_touches_training_batches_only(monkeypatch, tmp_path):
    from neurona.cli import build

    seen = []
    make = build.augmentation

    def spy(*args, **kwargs):
        aug = make(*args, **kwargs)

        def counted(x):
            seen.append(len(x))
            return aug(x)

        return counted

    monkeypatch.setattr(build, "augmentation", spy)
    assert run("train", *SMALL, "--hidden", 8, "--batch-size", 512, "--augment", "--epochs", 1, "--name", "aug",
               "--quiet") == 0
    assert sum(seen) == 2700 and max(seen) == 512  # the 2,700 training images; not validation's 300 nor the test's
    assert run("train", "--data", "xor", "--augment", "--name", "no") == 1
    assert not (tmp_path / "runs/no").exists()


def test_sklearn_data_sets_keep_their_class_names(tmp_path, capsys):
    try:
        import sklearn  # noqa: F401
    except ImportError:  # the optional extra is missing: the command says how to get it
        assert run("train", "--data", "iris", "--name", "i", "--quiet") == 1
        assert "pip install neurona[sklearn]" in capsys.readouterr().err
        return
    assert run("train", "--data", "iris", "--hidden", 4, "--epochs", 1, "--name", "i", "--quiet") == 0
    f = io.read_model_file(tmp_path / "runs/i/model.npz")
    assert f.metadata["class_names"] == ["setosa", "versicolor", "virginica"]


def test_damaged_data_and_model_files_are_named(tmp_path, capsys):
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    (tmp_path / "text.npz").write_text("not an archive")
    for name, problem in (("cut.npz", "truncated or corrupted archive"), ("text.npz", "not an .npz archive")):
        assert run("train", "--data", name, "--name", "bad", "--quiet") == 1
        err = capsys.readouterr().err
        assert f"{name}: {problem}" in err and "Traceback" not in err
    x = np.random.default_rng(0).normal(size=(30, 3)).astype(np.float32)
    x[7, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(30) % 2)
    assert run("train", "--data", "nan.npz", "--name", "bad", "--quiet") == 1
    err = capsys.readouterr().err
    assert "nan.npz" in err and "1 NaN values, at index (7, 2)" in err
    assert not (tmp_path / "runs/bad").exists()
    import pickle

    with open(tmp_path / "evil.npz", "wb") as fh:
        pickle.dump({"weights": 1}, fh)
    for command in ("evaluate", "info"):
        assert run(command, "evil.npz") == 1
        assert "evil.npz: holds pickled Python objects" in capsys.readouterr().err
    assert run("predict", "evil.npz", "--input", "nan.npz") == 1
    assert "evil.npz: holds pickled Python objects" in capsys.readouterr().err


def test_flat_inputs_for_image_models_and_images_for_flat_models(small_run, tmp_path, capsys):
    from neurona.data import fashion_mnist_small

    x, y = fashion_mnist_small("test", as_float=True, warn=False)
    np.savez(tmp_path / "flat.npz", x=x.reshape(len(x), 784), y=y)  # rows of 784 values for a 1×28×28 model
    capsys.readouterr()
    assert run("evaluate", small_run, "--data", "flat.npz") == 0
    acc = json.loads((small_run / "metrics.json").read_text())["test_accuracy"]
    assert f"accuracy {acc:.4f}" in capsys.readouterr().out

    n = 400
    np.savez(tmp_path / "rows.npz", x_train=x[:n].reshape(n, 784), y_train=y[:n], x_test=x[n:].reshape(-1, 784),
             y_test=y[n:])
    assert run("train", "--data", "rows.npz", "--hidden", 8, "--epochs", 1, "--name", "flat", "--quiet") == 0
    assert io.read_model_file(tmp_path / "runs/flat/model.npz").metadata["input_shape"] == [784]
    capsys.readouterr()
    try:
        import PIL  # noqa: F401
    except ImportError:  # images are read with Pillow; without it the command says so
        (tmp_path / "one.png").write_bytes(b"\x89PNG")
        assert run("predict", "runs/flat", "--input", "one.png") == 1
        assert "reading images needs Pillow" in capsys.readouterr().err
        return
    if not neurona.plot.available():
        return
    import matplotlib.image as mpimg

    mpimg.imsave(tmp_path / "one.png", x[0], cmap="gray", vmin=0, vmax=1)
    assert run("predict", "runs/flat", "--input", "one.png") == 0
    assert "one.png:" in capsys.readouterr().out
    mpimg.imsave(tmp_path / "small.png", x[0, :20, :20], cmap="gray", vmin=0, vmax=1)
    assert run("predict", "runs/flat", "--input", "small.png") == 1
    assert "small.png: the image is 20×20 = 400 pixels; this model expects 784 values" in capsys.readouterr().err


def test_model_presets_by_name(tmp_path, capsys):
    from neurona.data import fashion_mnist_small

    x, y = fashion_mnist_small("train", warn=False)
    np.savez(tmp_path / "imgs.npz", x_train=x[:80], y_train=y[:80], x_test=x[80:100], y_test=y[80:100])
    assert run("train", "--data", "imgs.npz", "--model", "cnn-small", "--epochs", 1, "--batch-size", 64,
               "--name", "cnn", "--quiet") == 0
    f = io.read_model_file(tmp_path / "runs/cnn/model.npz")
    assert f.model_name == "cnn-small" and f.metadata["input_shape"] == [1, 28, 28]
    assert type(io.load(tmp_path / "runs/cnn/model.npz")).__name__ == "CNNSmall"
    capsys.readouterr()
    assert run("train", "--data", "xor", "--model", "nosuch", "--name", "ns") == 1
    assert "no model named 'nosuch'" in capsys.readouterr().err and not (tmp_path / "runs/ns").exists()
