"""``neurona playground``: the command serves the page and says what went wrong when it cannot."""
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from neurona.cli import main

pytest.importorskip("uvicorn", reason="neurona playground needs the extra 'playground' (pip install 'neurona[playground]')")
ROOT = Path(__file__).resolve().parents[2]


def test_the_command_prints_the_url_first_and_serves_the_page():
    proc = subprocess.Popen([sys.executable, "-m", "neurona.cli", "playground", "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline()).group(0)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert b'data-testid="boundary"' in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_busy_port_is_an_error_with_the_fix(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["playground", "--port", str(port), "--no-browser"]) == 1
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


def test_help_lists_the_command(capsys):
    assert main(["--help"]) == 0
    assert "playground" in capsys.readouterr().out
