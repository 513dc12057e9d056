"""A real playground server on a free local port, for the server and browser tests."""
from __future__ import annotations

import contextlib
import socket
import threading
import time


@contextlib.contextmanager
def running_server(limits=None, allowed_hosts=frozenset({"127.0.0.1", "localhost", "::1"})):
    """Serve the playground with uvicorn in a background thread; yield its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    from neurona.playground.config import Limits
    from neurona.playground.server import create_app

    limits = limits or Limits()
    app = create_app(limits, allowed_hosts=set(allowed_hosts) if allowed_hosts is not None else None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="auto",
                            ws_max_size=2 * limits.max_upload_bytes + 64 * 1024, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the playground server did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def health(base: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(base + "/api/health", timeout=5) as r:
        return json.loads(r.read())


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate()`` until it returns a true value; return it (raise AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def subprocess_env() -> dict:
    """The environment for a child Python that must import this checkout's neurona."""
    import os
    from pathlib import Path

    import neurona

    root = str(Path(neurona.__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
