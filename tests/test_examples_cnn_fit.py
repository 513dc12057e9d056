"""The examples for the training workflow, CNNs and transfer learning run end to end on the embedded subset."""
from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

import neurona

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _quiet_subset_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", neurona.data.EmbeddedSubsetWarning)
        yield


def test_fit_example_trains_checkpoints_and_reloads_the_same_model(tmp_path):
    out = _example("fit_fashion_mnist").main(["--epochs", "3", "--out", str(tmp_path)])
    assert out["reloaded_same"] is True and out["test_accuracy"] > 0.6
    assert len(out["history"]) == 3 and abs(out["history"]["loss"][0] - out["hand_loss"]) < 1e-5
    for name in ("model.npz", "best.npz", "history.csv", "learning_curves.png", "confusion_matrix.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_cnn_example_quick(capsys):
    out = _example("cnn_fashion").main(["--quick", "--model", "lenet5"])
    assert len(out["history"]) == 2 and out["test_accuracy"] > 0.5
    assert "test accuracy" in capsys.readouterr().out


def test_transfer_learning_example_quick():
    out = _example("transfer_learning").main(["--quick"])
    assert set(out) == {"task_a", "transfer", "scratch"}
    assert out["task_a"] > 0.7 and 0.2 < out["transfer"] <= 1 and 0.2 < out["scratch"] <= 1
