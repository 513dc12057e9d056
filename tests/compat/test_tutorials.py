"""PyTorch teaching code run on neurona with only the import changed.

Each script in ``tutorials/`` is written in the style of a well-known PyTorch
tutorial or example (the "Learning PyTorch with Examples" series, the
beginner quickstart, the autograd tutorial, pytorch/examples' MNIST network
and word language model, the character-RNN name classifier, micrograd's
checks against PyTorch, ``torch.utils.data``). Its only neurona-specific
lines are the imports (``import neurona as torch``; the quickstart and the
MNIST example read the embedded Fashion-MNIST subset where the originals
download a data set). Each script checks its own result — the loss falls,
the accuracy beats chance, the gradients are the known values — and the
same files, with ``torch`` imported instead, pass on PyTorch 2.13.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPTS = sorted(p.name for p in (HERE / "tutorials").glob("*.py"))


def test_every_tutorial_is_listed():
    assert len(SCRIPTS) >= 12


@pytest.mark.parametrize("script", SCRIPTS)
def test_tutorial_runs_unchanged(script, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(HERE / "tutorials" / script)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_tutorial_imports_only_neurona(script):
    text = (HERE / "tutorials" / script).read_text()
    assert "import torch" not in text and "from torch" not in text
    assert "import neurona as torch" in text or "from neurona" in text
