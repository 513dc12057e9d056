"""The README's promises: its two commands come first and CI runs the second; its Python examples run."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import neurona
import neurona.data

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_the_readme_opens_with_the_two_commands_and_ci_runs_the_test_command():
    first = _blocks("bash")[0]
    commands = [line for line in first.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert README.index("```bash") < README.index("## ")  # before any section
    assert "neurona train" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci


def test_the_python_examples_run(monkeypatch, tmp_path):
    """Every ```python block, in order, in one namespace; Fashion-MNIST comes from the embedded subset."""
    real = neurona.data.fashion_mnist
    monkeypatch.setattr(neurona.data, "fashion_mnist", lambda split, **kw: real(split, subset=True, **kw))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", neurona.data.EmbeddedSubsetWarning)
        for block in _blocks("python"):
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the project's own README
    assert (tmp_path / "mlp.npz").exists()
    assert namespace["history"].history["val_accuracy"][-1] > 0.7
    loaded = namespace["same"]
    x = namespace["scaler"].transform(namespace["xva"][:5])
    np.testing.assert_allclose(loaded(neurona.from_numpy(x)).array, namespace["model"](neurona.from_numpy(x)).array,
                               rtol=1e-6)


def _sample_output() -> list[str]:
    """The lines of the output shown right after the README's two commands."""
    block = re.search(r"ends like this[^:]*:\n\n```\n(.*?)```", README, flags=re.S)
    assert block, "the README shows what `neurona train` prints, right after its two commands"
    return block.group(1).strip("\n").splitlines()


def _shape(line: str) -> str:
    """A line with its numbers (and a run's name) replaced: what stays is what the code writes."""
    line = re.sub(r"runs/[^/ ]+/", "runs/<name>/", line)
    return re.sub(r"\d[\d,]*(\.\d+)?(e[-+]\d+)?", "N", line)


def test_the_sample_output_has_the_shape_of_what_train_prints(tmp_path, monkeypatch, capsys):
    from neurona.cli import main

    from neurona import nn, optim
    from neurona.train import EarlyStopping, LambdaCallback, LearningRateScheduler, fit

    monkeypatch.chdir(tmp_path)
    assert main(["train", "--data", "fashion-mnist-small", "--hidden", "8", "--epochs", "2"]) == 0
    # the schedule's and early stopping's lines, from a run whose best epoch is its first
    getting_worse = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(val_accuracy=0.9 - 0.1 * epoch,
                                                                                val_loss=0.3 + 0.1 * epoch))
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = LearningRateScheduler(optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0), verbose=1)
    fit(model, nn.CrossEntropyLoss(), opt, (X, y), val=(X, y), epochs=3,
        callbacks=[getting_worse, plateau, EarlyStopping("val_accuracy", 5)])
    printed = [_shape(line.replace("  [embedded subset]", "")) for line in capsys.readouterr().out.splitlines()]
    sample = _sample_output()
    for line in sample:
        assert _shape(line) in printed, line
    text = "\n".join(sample)
    epoch = re.search(r"^Epoch (\d+)/(\d+) ", text, flags=re.M)
    restored = re.search(r"^restored the weights of epoch (\d+) \(val_accuracy = (0\.\d+)\)", text, flags=re.M)
    test = re.search(r"^test accuracy: (0\.\d+) \(([\d,]+)/([\d,]+)\)", text, flags=re.M)
    assert epoch and restored and test
    assert int(restored.group(1)) < int(epoch.group(1)) <= int(epoch.group(2)) == 20
    right, total = (int(g.replace(",", "")) for g in test.groups()[1:])
    assert round(right / total, 4) == float(test.group(1))


@pytest.mark.slow
def test_the_sample_output_is_what_the_first_command_prints(tmp_path, monkeypatch, capsys):
    """The default run itself (the full Fashion-MNIST when installed): the same lines, timings aside."""
    from neurona.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 0
    def same(line: str) -> str:  # the time an epoch took and the run's name differ from run to run
        return re.sub(r"runs/[^/ ]+/", "runs/<name>/", re.sub(r"^(Epoch \d+/\d+)  [\d.]+s  ", r"\1  ", line))

    printed = [same(line) for line in capsys.readouterr().out.splitlines()]
    for line in _sample_output():
        assert same(line) in printed, line
