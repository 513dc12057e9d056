"""The interoperability examples: serving an export from ONNX Runtime alone, fine-tuning a PyTorch export.

The whole examples run on the embedded subset in the slow run; the default run checks the same
steps on small inputs: the serving script in its own process, the PyTorch-trained asset's accuracy.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurona

pytest.importorskip("onnxruntime")

import neurona.onnx  # noqa: E402
from neurona import models  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _quiet_and_seeded():
    state = neurona.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", neurona.data.EmbeddedSubsetWarning)
        yield
    neurona.set_rng_state(state)


def test_serving_script_runs_without_neurona(tmp_path, rng):
    model = models.LeNet5().eval()
    neurona.onnx.export(model, rng.standard_normal((1, 1, 28, 28)).astype(np.float32), tmp_path / "m.onnx")
    x = rng.standard_normal((40, 1, 28, 28)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    done = subprocess.run([sys.executable, str(EXAMPLES / "serve_onnx.py"), str(tmp_path / "m.onnx"),
                           str(tmp_path / "x.npy"), "--batch", "16", "--repeats", "2"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["neurona_imported"] is False and report["samples"] == 40
    pred = np.load(tmp_path / "x.pred.npy")
    np.testing.assert_array_equal(pred, model(x).array.argmax(1))


def test_pytorch_trained_asset_keeps_its_accuracy():
    from neurona.data import fashion_mnist

    model = neurona.onnx.load(EXAMPLES / "assets" / "fashion_cnn_torch.onnx")
    xt, yt = fashion_mnist("test", as_float=True, layout="NCHW", subset=True)
    keep = np.flatnonzero(yt < 5)[:200]  # PyTorch trained it on classes 0-4
    acc = float((model(xt[keep]).array.argmax(1) == yt[keep]).mean())
    assert acc > 0.85


@pytest.mark.slow
def test_export_and_serve_example(tmp_path):
    out = _example("onnx_export_serve").main(["--quick", "--epochs", "1", "--repeats", "2", "--out", str(tmp_path)])
    assert out["neurona_in_server"] is False           # the serving process imported ONNX Runtime only
    assert out["agreement"] == 1.0 and out["served_accuracy"] == out["accuracy"]
    assert out["max_difference"] < 1e-4
    assert set(out["timing"]) == {1, 256} and all(t > 0 for pair in out["timing"].values() for t in pair)


@pytest.mark.slow
def test_fine_tune_example():
    out = _example("onnx_finetune_pytorch").main(["--quick", "--epochs", "4"])
    assert out["task_a"] > 0.85
    assert 0.2 < out["head"] <= 1 and 0.2 < out["scratch"] <= 1
    assert out["head_and_hidden"] > out["head"]
