"""The README's promises: its two commands come first and CI runs the second; its Python examples run."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

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
