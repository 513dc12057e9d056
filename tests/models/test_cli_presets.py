"""``neurona train --model <architecture>`` on image data and ``neurona info``'s per-layer output shapes."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import neurona
from neurona import cli, io, models
from neurona.data import fashion_mnist_small

PRESETS = {"lenet5": models.LeNet5, "cnn-small": models.CNNSmall, "alexnet": models.AlexNet, "vgg16": models.VGG,
           "resnet18": models.ResNet, "googlenet": models.GoogLeNet, "lstm": models.SequenceClassifier,
           "gru": models.SequenceClassifier}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Fashion-MNIST images of all ten classes as an .npz data set, 2 per class to train and 1 to test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = fashion_mnist_small("train", warn=False)
    first = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(10)])
    tr, te = first.reshape(10, 3)[:, :2].ravel(), first.reshape(10, 3)[:, 2]
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, x_train=x[tr], y_train=y[tr], x_test=x[te], y_test=y[te])
    return path


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_builds_for_the_data(name, tiny):
    from neurona.cli import build, options

    data = neurona.data.load_dataset(str(tiny), val_split=0.0)
    opts = dict(options.TRAIN_DEFAULTS, model=name, hidden=[300, 100])
    model = build.build_model(opts, data, seed=0)
    assert type(model) is PRESETS[name]
    model.eval()
    with neurona.no_grad():
        out = model(neurona.from_numpy(data.X_train[:2]))
    assert out.shape == (2, data.n_outputs)


def _train(tiny, out, name, *extra):
    argv = ["train", "--data", str(tiny), "--model", name, "--epochs", "1", "--batch-size", "8", "--patience", "0",
            "--val-split", "0", "--out", str(out), "--name", name, "--quiet", *extra]
    assert cli.main(argv) == 0
    return out / name


def test_train_lenet5_with_augmentation_and_info_shows_output_shapes(tiny, tmp_path, capsys):
    run = _train(tiny, tmp_path, "lenet5", "--augment")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_samples"] == 10 and 0.0 <= metrics["test_accuracy"] <= 1.0
    config = json.loads((run / "config.json").read_text())["options"]
    assert config["model"] == "lenet5" and config["augment"] is True
    model = io.load(run / "model.npz")
    assert isinstance(model, models.LeNet5) and model.num_parameters() == 61_706
    capsys.readouterr()
    assert cli.main(["info", str(run)]) == 0
    out = capsys.readouterr().out
    assert "per-layer output shapes, for one input of shape (1, 28, 28)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("features.", "classifier."))}
    assert "(1, 6, 28, 28)" in rows["features.0"] and "156" in rows["features.0"]
    assert "(1, 16, 5, 5)" in rows["features.5"] and "(1, 10)" in rows["classifier.4"]


def test_train_row_by_row_gru_preset(tiny, tmp_path):
    run = _train(tiny, tmp_path, "gru", "--hidden", "16")
    model = io.load(run / "model.npz")
    assert model.rnn.mode == "GRU" and model.rnn.hidden_size == 16 and model.rnn.input_size == 28


def test_summary_of_models():
    rows = {r.name: r for r in models.summary(models.ResNet18(num_classes=10, in_channels=1, input_size=28),
                                              (1, 28, 28))}
    assert rows["layer1.0"].output_shape == (1, 64, 28, 28) and rows["layer4"].output_shape == (1, 512, 4, 4)
    assert rows["layer2.0.downsample.0"].parameters == 64 * 128 and rows["(output)"].output_shape == (1, 10)
    assert sum(r.parameters for r in rows.values()) == 11_172_810  # every parameter counted once
    top = models.summary(models.LeNet5(), (1, 28, 28), max_depth=1)
    assert [r.name for r in top] == ["features", "classifier", "(output)"]
    assert [r.parameters for r in top[:2]] == [2_572, 59_134]
    lstm = {r.name: r for r in models.summary(models.SequenceClassifier(28, 8, 3), (28, 28))}
    assert lstm["rnn"].output_shape == ((1, 28, 8), ((1, 1, 8), (1, 1, 8)))  # (output, (h_n, c_n))
    table = models.format_summary(list(lstm.values()))
    assert "(1, 28, 8), (1, 1, 8), (1, 1, 8)" in table
    with pytest.raises(ValueError, match="input_shape"):
        models.summary(models.LeNet5())
