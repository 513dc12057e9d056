"""``neurona train --model unet | grid-detector | conv-autoencoder | vae | dcgan``: tiny runs write their run folders."""
from __future__ import annotations

import json

import pytest

from neurona import cli, io, models
from neurona.vision import tasks


@pytest.fixture(autouse=True)
def _no_figures(monkeypatch):
    monkeypatch.setattr(tasks, "write_figures", lambda *a: [])  # drawn in tests/vision/test_figures.py


# the other three recipes run through their examples in tests/test_examples_vision.py
@pytest.mark.parametrize("model, extra, cls, report", [
    ("unet", ["--samples", "16", "--hidden", "2"], models.UNet, "iou.txt"),
    ("dcgan", ["--samples", "64", "--hidden", "2"], models.DCGANGenerator, "losses.txt"),
])
def test_vision_presets_write_a_run_folder(model, extra, cls, report, tmp_path, capsys):
    code = cli.main(["train", "--model", model, "--data", "fashion-mnist-small", "--epochs", "1", "--out",
                     str(tmp_path), "--name", "run", "--quiet"] + extra)
    assert code == 0
    run = tmp_path / "run"
    assert isinstance(io.load(run / "model.npz"), cls)
    assert json.loads((run / "config.json").read_text())["options"]["model"] == model
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 1
    assert (run / report).read_text() and (run / "history.csv").read_text().startswith("epoch")
    if model == "dcgan":
        assert isinstance(io.load(run / "discriminator.npz"), models.DCGANDiscriminator)
    assert "run files in" in capsys.readouterr().out


def test_vision_preset_errors(tmp_path, capsys):
    assert cli.main(["train", "--model", "unet", "--data", "spiral", "--out", str(tmp_path)]) == 1
    assert "fashion-mnist-small" in capsys.readouterr().err
    assert cli.main(["train", "--model", "unet", "--hidden", "8,8", "--out", str(tmp_path)]) == 1
    assert "hidden" in capsys.readouterr().err
    assert cli.main(["train", "--model", "vae", "--resume", str(tmp_path)]) == 1


def test_task_options():
    o = tasks.task_options("unet", {"data": "fashion-mnist-small", "train_size": 100})
    assert o["hidden"] == [8] and o["epochs"] == 3 and o["test_size"] == 20
    assert tasks.task_options("grid-detector", {})["train_size"] == 10000
    with pytest.raises(ValueError, match="canvas_size"):
        tasks.task_options("unet", {"canvas_size": 60})
    with pytest.raises(ValueError, match="unknown task"):
        tasks.task_options("yolo", {})
