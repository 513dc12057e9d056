"""Run the tutorial scripts on PyTorch itself, to check that they are real PyTorch code (not part of the suite).

    python tests/compat/run_on_pytorch.py        # needs torch; neurona is still used for the embedded data

Each script is copied with its neurona imports turned back into torch imports
(``neurona.data``, which only loads the embedded Fashion-MNIST subset, stays).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def as_pytorch(text: str) -> str:
    text = re.sub(r"^import neurona as torch$", "import torch", text, flags=re.M)
    text = re.sub(r"^from neurona import nn$", "from torch import nn", text, flags=re.M)
    return re.sub(r"neurona\.(nn|optim|utils)", r"torch.\1", text)


def main() -> int:
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for script in sorted((HERE / "tutorials").glob("*.py")):
            copy = Path(tmp) / script.name
            copy.write_text(as_pytorch(script.read_text()))
            proc = subprocess.run([sys.executable, str(copy)], capture_output=True, text=True, cwd=tmp,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
            print(f"{'ok  ' if proc.returncode == 0 else 'FAIL'} {script.name}")
            if proc.returncode:
                failed += 1
                print(proc.stderr[-2000:])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
