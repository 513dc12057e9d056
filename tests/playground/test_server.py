"""The web server: assets, refusals, the WebSocket protocol, sessions, downloads and the command."""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground server needs Starlette (pip install 'neurona[playground]')")
pytest.importorskip("uvicorn", reason="the playground server needs uvicorn (pip install 'neurona[playground]')")
ws_client = pytest.importorskip("websockets.sync.client",
                                reason="these tests speak WebSocket with the 'websockets' package")

import neurona  # noqa: E402
from neurona.playground.config import Limits  # noqa: E402
from neurona.playground.server import TokenBucket  # noqa: E402

from .helpers import health, running_server, subprocess_env, wait_until  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with running_server() as base:
        yield base


def get(base, path, headers=None):
    """(status, headers, body) of GET base+path, with the raw path sent as is."""
    host, port = base.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


class Client:
    """A WebSocket client of the page's protocol."""

    def __init__(self, base, **kw):
        self._connection = ws_client.connect(base.replace("http", "ws") + "/ws", max_size=None, **kw)
        self.ws = self._connection.__enter__()
        self.hello = self.recv()

    def send(self, msg):
        self.ws.send(json.dumps(msg))

    def recv(self, timeout=10):
        return json.loads(self.ws.recv(timeout=timeout))

    def until(self, kind, timeout=10, where=lambda m: True):
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if m["type"] == "frame" and m.get("seq"):
                self.send({"type": "ack", "seq": m["seq"]})
            if m["type"] == kind and where(m):
                return m

    def close(self):
        self._connection.__exit__(None, None, None)


def test_the_page_and_its_assets(server):
    status, headers, body = get(server, "/")
    assert status == 200 and b'data-testid="boundary"' in body
    assert "default-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    for name, kind in (("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")):
        status, headers, body = get(server, f"/static/{name}")
        assert status == 200 and kind in headers["content-type"] and body
    # nothing from outside the page is needed: no http(s) URL in the assets
    for name in ("", "static/app.js", "static/style.css"):
        text = get(server, "/" + name)[2].replace(b"http://www.w3.org/2000/svg", b"")  # a name, not a download
        assert not re.search(rb"https?://", text)


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/..%2Fserver.py", "/static/%2e%2e%2fserver.py",
                                  "/static/..%5cserver.py", "/static/", "/static/cli.py", "/server.py",
                                  "/static/app.js/..", "/..%2f..%2fetc%2fpasswd", "/api/nothing"])
def test_only_its_own_assets(server, path):
    status, _, body = get(server, path)
    assert status == 404 and b"import" not in body and b"root:" not in body


def test_a_foreign_host_name_is_refused(server):
    status, _, body = get(server, "/", headers={"Host": "attacker.example:80"})
    assert status == 421 and b"127.0.0.1" in body


def test_a_websocket_from_another_origin_is_refused(server):
    with pytest.raises(Exception):
        Client(server, origin="http://attacker.example")


def test_training_over_the_websocket_and_the_downloads(server, tmp_path):
    c = Client(server)
    try:
        assert c.hello["type"] == "hello" and c.hello["limits"]["max_hidden_layers"] == 10
        sid = c.hello["session"]
        c.send({"type": "hello"})
        assert c.until("config")["config"]["dataset"] == "circle"
        c.send({"type": "config", "config": {"dataset": "spiral", "hidden": [8, 8], "optimizer": "adam",
                                             "lr": 0.01, "features": ["x1", "x2", "sinx1", "sinx2"]}})
        c.until("data", where=lambda m: m["name"] == "spiral")
        first = c.until("frame", where=lambda m: m["runs"][0]["config"]["dataset"] == "spiral")["runs"][0]
        c.send({"type": "play"})
        f = c.until("frame", where=lambda m: m["runs"][0]["epoch"] >= 30, timeout=30)
        assert f["playing"] and f["steps_per_second"] > 0
        assert f["runs"][0]["test_loss"] < first["test_loss"]
        c.send({"type": "pause"})
        c.until("state", where=lambda m: not m["playing"])
        body = urllib.request.urlopen(f"{server}/api/model?session={sid}", timeout=10).read()
        (tmp_path / "m.npz").write_bytes(body)
        model = neurona.io.load(tmp_path / "m.npz")
        assert model(neurona.tensor(np.zeros((3, 2), np.float32))).shape == (3, 2)
        with urllib.request.urlopen(f"{server}/api/code?session={sid}", timeout=10) as r:
            assert "attachment" in r.headers["content-disposition"]
            compile(r.read().decode(), "playground_train.py", "exec")
    finally:
        c.close()


def test_downloads_need_an_open_session(server):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{server}/api/model?session=nope", timeout=10)
    assert e.value.code == 404 and b"tab must be open" in e.value.read()


def test_refusals_come_back_as_messages(server):
    c = Client(server)
    try:
        c.send({"type": "config", "config": {"hidden": [64]}})
        err = c.until("error")
        assert err["key"] == "hidden" and "1 to 32" in err["message"]
        c.ws.send("not json")
        assert "JSON" in c.until("error")["message"]
        c.send({"type": "config", "config": {"hidden": [2] * 50000}})  # more than 64 KiB
        assert "bytes refused" in c.until("error")["message"]
        c.send({"type": "upload", "name": "big.csv", "text": "1,2,0\n" * 200_000})  # 1.2 MB > 1 MiB
        assert "limit is" in c.until("error")["message"]
        c.send([1, 2])
        assert "'type'" in c.until("error")["message"]
    finally:
        c.close()


def test_message_rate_is_bounded():
    with running_server(Limits(messages_per_second=5, message_burst=5)) as base:
        c = Client(base)
        try:
            for _ in range(20):
                c.send({"type": "pause"})
            err = c.until("error")
            assert "too many requests" in err["message"]
        finally:
            c.close()


def test_http_rate_is_bounded():
    with running_server(Limits(http_per_second=1, http_burst=3)) as base:
        codes = [get(base, "/static/style.css")[0] for _ in range(6)]
        assert codes[:3] == [200] * 3 and 429 in codes[3:]
        status, _, body = get(base, "/static/style.css")
        assert status == 429 and b"too many requests" in body


def test_each_tab_has_its_own_session_freed_when_it_closes():
    with running_server(Limits(max_sessions=2)) as base:
        a, b = Client(base), Client(base)
        assert a.hello["session"] != b.hello["session"]
        assert health(base)["sessions"] == 2
        with ws_client.connect(base.replace("http", "ws") + "/ws") as c:
            refusal = json.loads(c.recv(timeout=10))
        assert refusal["type"] == "error" and refusal["fatal"] and "at most 2 tabs" in refusal["message"]
        a.send({"type": "config", "config": {"dataset": "xor"}})
        a.until("data")
        b.send({"type": "hello"})
        assert b.until("data")["name"] == "circle"  # a's change did not reach b
        a.close()
        wait_until(lambda: health(base)["sessions"] == 1)
        b.close()
        wait_until(lambda: health(base)["sessions"] == 0)


def test_token_bucket():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take() and not bucket.take()


def test_the_command_prints_its_url_first_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "neurona.playground", "--port", "0", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"neurona playground" in r.read()
        busy = int(url.rsplit(":", 1)[1].strip("/"))
        again = subprocess.run([sys.executable, "-m", "neurona.playground", "--port", str(busy), "--no-browser"],
                               capture_output=True, text=True, env=subprocess_env(), timeout=30)
        assert again.returncode == 1 and "cannot listen" in again.stderr and "--port" in again.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_command_can_open_a_data_set():
    from neurona.playground.cli import build_parser, page_url

    assert page_url("http://127.0.0.1:1/") == "http://127.0.0.1:1/"
    assert page_url("http://127.0.0.1:1/", "spiral") == \
        "http://127.0.0.1:1/#dataset=spiral&problem=classification&play=true"
    assert "problem=regression&loss=squared_error" in page_url("http://x/", "plane")
    assert build_parser().parse_args(["--data", "xor"]).data == "xor"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--data", "mnist"])


def test_the_command_says_how_to_install_the_extra(monkeypatch, capsys):
    from neurona.playground import cli

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if it were not installed
    assert cli.main(["--no-browser", "--port", "0"]) == 1
    assert "pip install 'neurona[playground]'" in capsys.readouterr().err
