"""``neurona playground [--host 127.0.0.1] [--port 8765] [--no-browser]``: serve the page and open it."""
from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading

from .datasets import DATASETS, REGRESSION

__all__ = ["main", "build_parser", "add_arguments", "page_url"]

MISSING = ("neurona playground needs the optional extra 'playground' (Starlette, uvicorn, websockets): "
           "pip install 'neurona[playground]'")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The command's options, for ``neurona playground`` and ``python -m neurona.playground``."""
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in a browser")
    p.add_argument("--data", choices=DATASETS,
                   help="open the page on this data set, already training (e.g. --data spiral)")
    return p


def build_parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(
        prog="neurona playground",
        description="The notes' TensorFlow Playground demo in the browser, trained live by neurona."))


def page_url(base: str, data: str | None = None) -> str:
    """The address to open: the page, set up on ``data`` and playing when it is given."""
    if not data:
        return base
    problem = "regression" if data in REGRESSION else "classification"
    extra = "&loss=squared_error" if problem == "regression" else ""
    return f"{base}#dataset={data}&problem={problem}{extra}&play=true"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    """Start the server for parsed ``args``; returns when it stops (Ctrl+C)."""
    try:
        import uvicorn
        import websockets  # noqa: F401 - uvicorn's WebSocket protocol
        from .server import create_app
    except ImportError:
        print(f"error: {MISSING}", file=sys.stderr)
        return 1
    from .config import Limits

    if not 0 <= args.port <= 65535:
        print(f"error: --port must be 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        sock = _listen(args.host, args.port)
    except OSError as e:
        print(f"error: cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
              f"choose another port with --port", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{port}/"
    print(f"neurona playground: {url}  (Ctrl+C stops it)", flush=True)
    loopback = _is_loopback(args.host)
    if not loopback:
        print(f"warning: listening on {args.host}: anyone who can reach this machine can use the playground",
              file=sys.stderr, flush=True)
    limits = Limits()
    app = create_app(limits, allowed_hosts={"127.0.0.1", "localhost", "::1"} if loopback else None)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="auto",
                            ws_max_size=2 * limits.max_upload_bytes + 64 * 1024, ws_ping_interval=20.0,
                            ws_ping_timeout=20.0, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    if not args.no_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(page_url(url, args.data),)).start()
    elif args.data:
        print(f"open {page_url(url, args.data)} to start on {args.data}", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``neurona playground``: parse the options and serve until Ctrl+C."""
    return run(build_parser().parse_args(argv))
