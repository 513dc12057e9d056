"""The multilayer-perceptron examples run, in a few seconds each at small settings, and show what they claim.

examples/activations_compared.py, optimizers_compared.py, regularization.py and
delta_rule_vs_autodiff.py, each called through its ``main(argv)`` with fewer
epochs or samples than its defaults (which run in well under a minute).
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import neurona

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, argv: list[str]):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = neurona.get_rng_state()
    try:
        return module.main(argv)
    finally:
        neurona.set_rng_state(state)  # the examples seed the global generator; leave it as it was


def test_activations_compared(tmp_path, capsys):
    out = tmp_path / "curves.png"
    results = run_example("activations_compared", ["--epochs", "40", "--out", str(out)])
    assert set(results) == {"sigmoid", "tanh", "softsign", "relu", "leaky_relu", "prelu", "elu", "gelu", "maxout"}
    for name, r in results.items():
        losses = r["losses"]
        assert len(losses) == 40 and all(math.isfinite(v) for v in losses), name
        assert losses[-1] < losses[0], f"{name} did not learn"
        assert 0.0 <= r["test_accuracy"] <= 1.0
    # the notes' point: sigmoid's derivative (at most 1/4) makes it the slowest to learn
    assert results["sigmoid"]["losses"][-1] > max(results[n]["losses"][-1] for n in ("relu", "leaky_relu", "maxout"))
    assert out.exists() and out.stat().st_size > 0
    assert "sigmoid" in capsys.readouterr().out


def test_optimizers_compared(capsys):
    results = run_example("optimizers_compared", ["--epochs", "2", "--train-size", "640", "--out", ""])
    assert list(results) == ["SGD", "Momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdaMax",
                             "Nadam", "AdamW"]
    first = {name: r["history"]["loss"][0] for name, r in results.items()}
    for name, r in results.items():
        losses = r["history"]["loss"]
        assert len(losses) == 2 and losses[-1] < losses[0] < math.log(10) + 0.5, name
        assert r["test_accuracy"] > 0.3, name
    # the same start and the same batches: plain SGD at lr 0.01 is behind momentum and Adam after one epoch
    assert first["SGD"] > first["Momentum"] and first["SGD"] > first["Adam"]
    assert "AdamW" in capsys.readouterr().out


def test_regularization(capsys):
    results = run_example("regularization", ["--epochs", "3", "--train-size", "300", "--out", ""])
    assert list(results) == ["none", "L2 (λ=1e-3)", "L1 (λ=1e-4)", "dropout 0.5", "early stopping"]
    none, l2, l1, drop = (results[k] for k in ("none", "L2 (λ=1e-3)", "L1 (λ=1e-4)", "dropout 0.5"))
    assert l2["sum_sq_weights"] < none["sum_sq_weights"]  # L2 shrinks every weight
    assert l1["frac_small"] > none["frac_small"]  # L1 drives weights to (nearly) zero
    assert drop["train_loss"] > none["train_loss"]  # dropout fits the training set less closely
    assert 1 <= results["early stopping"]["epochs"] <= 3
    for r in results.values():
        assert np.isfinite([r["train_loss"], r["val_loss"]]).all() and 0 <= r["test_accuracy"] <= 1
    assert "variant" in capsys.readouterr().out


def test_delta_rule_vs_autodiff(capsys):
    results = run_example("delta_rule_vs_autodiff", ["--epochs", "5", "--samples", "60"])
    assert results["max_gradient_difference"] < 1e-6
    assert set(results["modes"]) == {"batch", "minibatch", "incremental", "online"}
    for mode, r in results["modes"].items():
        assert len(r["history"]) == 5 and r["history"][-1] < r["history"][0], mode
    assert "agree to 1e-6" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["activations_compared", "optimizers_compared", "regularization",
                                  "delta_rule_vs_autodiff"])
def test_example_documents_how_to_run_it(name):
    text = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    assert f"Run: python examples/{name}.py" in text
