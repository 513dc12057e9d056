"""Running the ``neurona`` command in-process or as a real process, and the runs the tests start from."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from neurona.cli import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys):
    """``cli("train", "--data", "xor", ...)``: the exit status and what was printed."""
    def run(*args) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def neurona_process(*args, cwd, **kwargs) -> subprocess.Popen:
    """``python -m neurona.cli ARGS`` as a separate process."""
    return subprocess.Popen([sys.executable, "-m", "neurona.cli", *map(str, args)], cwd=cwd, env=env(), **kwargs)


@pytest.fixture
def no_hang():
    """Fail instead of hanging forever if a read blocks (on a FIFO, say)."""
    def alarm(signum, frame):
        raise TimeoutError("blocked for 30 s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    """A small finished run on the xor toy set: runs/x in a folder of its own."""
    base = tmp_path_factory.mktemp("xor")
    cwd = os.getcwd()
    os.chdir(base)
    try:
        assert main(["train", "--data", "xor", "--hidden", "4", "--epochs", "2", "--name", "x", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return base / "runs" / "x"


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A model of Fashion-MNIST images (the embedded subset, one epoch), and a few test images as arrays."""
    from neurona.data import fashion_mnist_small

    base = tmp_path_factory.mktemp("img")
    cwd = os.getcwd()
    os.chdir(base)
    try:
        assert main(["train", "--data", "fashion-mnist-small", "--hidden", "32", "--batch-size", "256", "--epochs",
                     "2", "--name", "img", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    x, y = fashion_mnist_small("test", warn=False)
    return base / "runs" / "img", x[:200], y[:200]
