"""The segmentation, detection, autoencoder and DCGAN examples run end to end (tiny settings here; the
quick settings, which learn something, under the slow marker)."""
from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import pytest

import neurona
from neurona import io, models

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(autouse=True)
def _quiet_subset_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", neurona.data.EmbeddedSubsetWarning)
        yield


def test_segmentation_example_tiny(tmp_path, monkeypatch):
    example = _example("segmentation")
    monkeypatch.setattr(example.tasks, "write_figures", lambda *a: [])  # drawn in tests/vision/test_figures.py
    out = example.main(["--quick", "--train", "16", "--test", "8", "--epochs", "1",
                                         "--base-channels", "2", "--depth", "2", "--out", str(tmp_path)])
    assert 0 <= out["test_miou"] <= 1 and len(out["test_iou"]) == 11 and out["epochs"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text())["test_miou"] == out["test_miou"]
    assert "mean (mIoU)" in (tmp_path / "iou.txt").read_text()
    model = io.load(tmp_path / "model.npz")
    assert isinstance(model, models.UNet) and model.get_config()["depth"] == 2


def test_detection_example_tiny(tmp_path, monkeypatch):
    example = _example("detection")
    monkeypatch.setattr(example.tasks, "write_figures", lambda *a: [])  # drawn in the slow test
    out = example.main(["--quick", "--train", "16", "--test", "8", "--epochs", "1", "--width", "2",
                                      "--out", str(tmp_path)])
    assert 0 <= out["test_map50"] <= 1 and out["epochs"] == 1
    assert isinstance(io.load(tmp_path / "model.npz"), models.GridDetector)


def test_autoencoders_example_tiny(tmp_path):
    example = _example("autoencoders")
    example.plots = lambda *a, **k: []  # the figures are drawn in the slow test of the quick settings
    out = example.main(["--quick", "--limit", "128", "--ae-epochs", "1", "--vae-epochs", "1",
                                         "--out", str(tmp_path)])
    assert out["autoencoder"]["test_mse"] > 0 and out["vae"]["test_neg_elbo"] > 0
    assert isinstance(io.load(tmp_path / "vae.npz"), models.VAE)


def test_dcgan_example_tiny(tmp_path):
    example = _example("dcgan")
    example.save_grid = lambda *a, **k: None  # the figures are drawn in the slow test of the quick settings
    out = example.main(["--quick", "--epochs", "2", "--limit", "64", "--width", "4", "--latent", "8",
                                  "--out", str(tmp_path)])
    assert len(out["history"]) == 2 and all(h["loss_d"] > 0 for h in out["history"])
    assert isinstance(io.load(tmp_path / "generator.npz"), models.DCGANGenerator)


@pytest.mark.slow
def test_segmentation_example_quick_learns(tmp_path):
    out = _example("segmentation").main(["--quick", "--out", str(tmp_path)])
    assert out["test_miou"] > 0.15 and out["test_iou"]["background"] > 0.95  # measured: 0.23 and 0.98
    if _has_matplotlib():
        assert (tmp_path / "segmentation.png").stat().st_size > 0


@pytest.mark.slow
def test_detection_example_quick_learns(tmp_path):
    out = _example("detection").main(["--quick", "--out", str(tmp_path)])
    assert out["test_map50"] > 0.3  # measured: 0.47
    if _has_matplotlib():
        assert (tmp_path / "detection.png").stat().st_size > 0


@pytest.mark.slow
def test_autoencoders_example_quick_learns(tmp_path):
    out = _example("autoencoders").main(["--quick", "--out", str(tmp_path)])
    assert out["autoencoder"]["test_mse"] < 0.03 and out["vae"]["test_mse"] < 0.05  # measured: 0.021, 0.037
    if _has_matplotlib():
        for name in ("reconstructions.png", "vae_samples.png", "vae_latent_map.png"):
            assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.slow
def test_dcgan_example_quick(tmp_path):
    out = _example("dcgan").main(["--quick", "--out", str(tmp_path)])
    if _has_matplotlib():
        assert len(out["figures"]) == 4  # three epochs and the row-per-epoch summary
    last = out["history"][-1]
    assert 0.05 < last["d_fake"] < 0.95 and 0.05 < last["d_real"] < 0.99  # neither network has won outright
