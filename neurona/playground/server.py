"""The playground's web server: the page, its WebSocket, and the two downloads (Starlette + uvicorn).

    GET  /                       the page (index.html; app.js and style.css under /static/)
    WS   /ws                     one session per connection: JSON messages (see ``session.py``)
    GET  /api/model?session=ID   the trained network as a neurona model file
    GET  /api/code?session=ID    the Python script that trains it again
    GET  /api/health             {"sessions": open sessions, "max_sessions": ...}

Everything is bounded (:class:`~neurona.playground.config.Limits`): requests
from a client are rate-limited (HTTP 429 with a message), every WebSocket
message is checked for size, rate and content and a refusal comes back as an
``error`` message the page shows; at most ``max_sessions`` tabs are served at
once. Only the files shipped in ``static/`` are served, looked up by name in a
table built at start-up, so no request reaches the file system. Requests must
name a local host (``Host: 127.0.0.1``/``localhost``) when the server listens
on a loopback address, and a WebSocket must come from the page's own origin.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import secrets
import time
import traceback
from importlib import resources
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .config import Limits
from .session import PlaygroundError, Session

__all__ = ["create_app", "TokenBucket", "STATIC_FILES", "FRAME_TRAIN_SECONDS"]

FRAME_TRAIN_SECONDS = 0.04   # training between two frames: 15-20 frames a second with the frame's own cost
MAX_FRAMES_IN_FLIGHT = 2     # frames sent and not yet drawn by the page; beyond it training goes on without frames
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
                "style.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: "
                               "blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class TokenBucket:
    """At most ``rate`` events per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = float(rate), float(burst), clock
        self.tokens, self.stamp = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _load_static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("neurona.playground") / "static"
    return {name: ((folder / name).read_bytes(), kind) for name, kind in STATIC_FILES.items()}


class _Guard:
    """ASGI middleware: host check, per-client rate limit and security headers on every HTTP response."""

    def __init__(self, app, limits: Limits, allowed_hosts: set[str] | None):
        self.app, self.limits, self.allowed_hosts = app, limits, allowed_hosts
        self.buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            return await self._refuse(scope, send, 421, f"this server answers requests for 127.0.0.1 or localhost, "
                                                        f"not {host!r}")
        if scope["type"] == "websocket":
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != host:
                return await self._refuse(scope, send, 403, "the WebSocket must be opened by the playground's own "
                                                            "page")
        client = (scope.get("client") or ("?", 0))[0]
        bucket = self.buckets.get(client)
        if bucket is None:
            if len(self.buckets) > 1024:
                self.buckets.clear()
            bucket = self.buckets[client] = TokenBucket(self.limits.http_per_second, self.limits.http_burst)
        if not bucket.take():
            return await self._refuse(scope, send, 429, f"too many requests: at most "
                                                        f"{self.limits.http_per_second:g} per second; wait a moment")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        return await self.app(scope, receive, send_with_headers)

    async def _refuse(self, scope, send, status: int, message: str):
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        body = message.encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())] +
                               [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]})
        await send({"type": "http.response.body", "body": body})


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class _Host:
    """A session with its worker thread, its WebSocket and its message budget."""

    def __init__(self, session: Session, ws: WebSocket, limits: Limits):
        self.session, self.ws, self.limits = session, ws, limits
        self.worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"playground-{session.id[:6]}")
        self.send_lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.bucket = TokenBucket(limits.messages_per_second, limits.message_burst)
        self.flood = TokenBucket(10 * limits.messages_per_second, 10 * limits.message_burst)
        self.sent = 0
        self.drawn = 0
        self.last_refusal = 0.0

    async def call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)

    async def send(self, message: dict) -> None:
        text = json.dumps(message, separators=(",", ":"), allow_nan=False)
        async with self.send_lock:
            await self.ws.send_text(text)

    async def send_frame(self, frame: dict) -> None:
        self.sent += 1
        frame["seq"] = self.sent
        await self.send(frame)

    async def refuse(self, message: str, request: str | None = None, throttle: bool = False,
                     key: str | None = None) -> None:
        now = time.monotonic()
        if throttle and now - self.last_refusal < 1.0:
            return  # one visible refusal a second is enough
        self.last_refusal = now
        await self.send({"type": "error", "message": message, "request": request, "key": key})

    def close(self) -> None:
        self.session.playing = False
        self.worker.shutdown(wait=False, cancel_futures=True)


def create_app(limits: Limits | None = None, allowed_hosts: set[str] | None = None) -> Starlette:
    """The playground's ASGI application.

    ``allowed_hosts``: the host names requests may name (None: any; the
    command passes the loopback names when it listens on a loopback address).
    """
    limits = limits or Limits()
    static = _load_static()
    hosts: dict[str, _Host] = {}

    def asset(name: str) -> Response:
        body, kind = static[name]
        return Response(body, media_type=kind)

    async def index(request: Request):
        return asset("index.html")

    async def static_file(request: Request):
        name = request.path_params["name"]
        if name not in static:
            return PlainTextResponse("not found", status_code=404)
        return asset(name)

    async def health(request: Request):
        return JSONResponse({"sessions": len(hosts), "max_sessions": limits.max_sessions})

    def find(request: Request) -> _Host | Response:
        sid = request.query_params.get("session", "")
        host = hosts.get(sid)
        if host is None:
            return JSONResponse({"error": "no such session: the page's tab must be open (reload it)"},
                                status_code=404)
        return host

    async def download_model(request: Request):
        host = find(request)
        if isinstance(host, Response):
            return host
        run = request.query_params.get("run", "A")
        try:
            body = await host.call(host.session.model_file, run)
        except PlaygroundError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        name = f"playground-{host.session.config.dataset}-{run}.npz"
        return Response(body, media_type="application/octet-stream",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    async def download_code(request: Request):
        host = find(request)
        if isinstance(host, Response):
            return host
        run = request.query_params.get("run", "A")
        try:
            text = await host.call(host.session.python_code, run)
        except PlaygroundError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return Response(text, media_type="text/x-python; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="playground_train.py"'})

    async def ws_endpoint(ws: WebSocket):
        await ws.accept()
        if len(hosts) >= limits.max_sessions:
            await ws.send_text(json.dumps({"type": "error", "fatal": True, "message": (
                f"the playground serves at most {limits.max_sessions} tabs at once; close another tab and "
                f"reload this one")}))
            await ws.close(code=1013)
            return
        sid = secrets.token_urlsafe(16)
        loop = asyncio.get_running_loop()
        host = None
        try:
            session = await loop.run_in_executor(None, Session, limits, sid)
            host = hosts[sid] = _Host(session, ws, limits)
            await host.send({"type": "hello", "session": sid, "limits": limits.to_dict()})
            player = asyncio.create_task(_play(host))
            try:
                await _receive(host)
            finally:
                player.cancel()
        except WebSocketDisconnect:
            pass
        finally:
            hosts.pop(sid, None)
            if host is not None:
                host.close()

    routes = [Route("/", index), Route("/static/{name}", static_file), Route("/api/health", health),
              Route("/api/model", download_model), Route("/api/code", download_code),
              WebSocketRoute("/ws", ws_endpoint)]
    app = Starlette(routes=routes)
    app.state.hosts = hosts
    app.state.limits = limits
    return _Guard(app, limits, allowed_hosts)


async def _play(host: _Host) -> None:
    """While the session plays: train a little, send a frame, again (training on while the page lags)."""
    try:
        while True:
            await host.wake.wait()
            host.wake.clear()
            while host.session.playing:
                if host.sent - host.drawn >= MAX_FRAMES_IN_FLIGHT:
                    await host.call(host.session.advance, FRAME_TRAIN_SECONDS, False)
                    continue
                frame = await host.call(host.session.advance, FRAME_TRAIN_SECONDS)
                await host.send_frame(frame)
                for note in frame.pop("notices", []) if not host.session.playing else []:
                    await host.send({"type": "notice", "message": note})
    except (asyncio.CancelledError, WebSocketDisconnect):
        return
    except Exception as e:  # training failed: stop playing and tell the page
        traceback.print_exc()
        host.session.playing = False
        try:
            await host.send({"type": "error", "message": f"training stopped: {type(e).__name__}: {e}"})
        except Exception:
            pass


async def _receive(host: _Host) -> None:
    limits = host.limits
    upload_cap = limits.max_upload_bytes * 2 + 4096  # JSON escaping can double the text
    while True:
        message = await host.ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        if not host.flood.take():
            continue  # far beyond any page's rate: dropped without an answer
        text = message.get("text")
        msg = None
        if text is not None and len(text) <= upload_cap:
            try:
                msg = json.loads(text)
            except json.JSONDecodeError:
                pass
        if isinstance(msg, dict) and msg.get("type") == "ack":  # the page drew frame number `seq`
            seq = msg.get("seq")
            if isinstance(seq, int) and host.drawn < seq <= host.sent:
                host.drawn = seq
            continue
        kind = msg.get("type") if isinstance(msg, dict) and isinstance(msg.get("type"), str) else None
        if not host.bucket.take():
            await host.refuse(f"too many requests: at most {limits.messages_per_second:g} a second; "
                              f"'{kind or 'message'}' was not applied", kind, throttle=True)
            continue
        if text is None:
            await host.refuse("the playground accepts JSON text messages only")
            continue
        if len(text) > upload_cap:
            await host.refuse(f"message of {len(text):,} bytes refused: uploads are limited to "
                              f"{limits.max_upload_bytes:,} bytes")
            continue
        if msg is None:
            await host.refuse("not a JSON message")
            continue
        if kind is None:
            await host.refuse("a message must be a JSON object with a 'type'")
            continue
        if kind != "upload" and len(text) > limits.max_message_bytes:
            await host.refuse(f"{kind}: message of {len(text):,} bytes refused (at most "
                              f"{limits.max_message_bytes:,})", kind)
            continue
        try:
            reply = await host.call(host.session.handle, msg)
        except PlaygroundError as e:
            await host.refuse(str(e), kind, key=e.key)
            continue
        except Exception as e:  # a fault of ours: say so on the page and in the server's log, keep serving
            traceback.print_exc()
            await host.refuse(f"internal error while handling '{kind}': {type(e).__name__}: {e}", kind)
            continue
        for out in reply.messages:
            await host.send(out)
        if reply.frame:
            await host.send_frame(await host.call(host.session.frame))
        if host.session.playing:
            host.wake.set()
