"""The labelling page's web server (aiohttp): the page, its assets and a small JSON API.

Security: the candidate texts are untrusted. The page never turns them into HTML (app.js builds
DOM nodes with textContent), and a strict Content-Security-Policy allows only the package's own
script and style, so a `<script>` or `onerror=` in a response cannot run even if it got through.
On 127.0.0.1 requests must name a loopback host (a DNS-rebinding page cannot read the API); on
any other host every request needs the random token from the printed URL. The API takes JSON
only, so another site's form cannot post a decision (a cross-site JSON POST needs CORS, which
this server never grants); every change is a POST (even showing an item, which reserves it), and
a POST whose Origin or Sec-Fetch-Site says it comes from another site is refused (403), so a
cross-site `<img>` or form can change nothing. A malformed request is one line on the
operator's terminal, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from judge.errors import InputError
from judge.label.session import Session

LOOPBACK = ("127.0.0.1", "localhost", "::1")
ASSETS = {
    "app.js": "text/javascript",
    "markdown.js": "text/javascript",
    "style.css": "text/css",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SESSION = web.AppKey("session", Session)
TOKEN = web.AppKey("token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _asset(name: str) -> bytes:
    return resources.files("judge.label").joinpath("static", name).read_bytes()


def _hostname(request: web.Request) -> str:
    host = request.host
    if host.startswith("["):  # [::1]:8765
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cross_site(request: web.Request) -> bool:
    """Whether the browser says a request comes from another site (the page's own requests
    say same-origin; tools such as curl send neither header)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin.split("://", 1)[-1].rstrip("/") != request.host


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.app[TOKEN]
    if not token and _hostname(request) not in LOOPBACK:
        return web.Response(status=403, text="forbidden: this server answers 127.0.0.1 only")
    if request.method not in ("GET", "HEAD") and _cross_site(request):
        return web.Response(status=403, text="forbidden: a request from another site")
    protected = request.path == "/" or request.path.startswith("/api/")
    if token and protected:
        given = request.query.get("token") or request.headers.get("X-Token") or ""
        if not secrets.compare_digest(given.encode(), token.encode()):
            return web.Response(status=403, text="forbidden: open the URL with its token")
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # answered as a plain response, with the headers below
        response = web.Response(status=exc.status, text=exc.text or exc.reason)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _index(request: web.Request) -> web.Response:
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8")


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    return web.Response(body=_asset(name), content_type=ASSETS[name], charset="utf-8")


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send JSON")
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise web.HTTPBadRequest(text="bad JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


def _page(source: Any) -> str:
    page = str(source.get("page") or "")
    return page[:64] or "default"


async def _state(request: web.Request) -> web.Response:
    """The page's item (reserved for it: a POST) and the counts."""
    return web.json_response(request.app[SESSION].state(_page(await _body(request))))


async def _act(request: web.Request) -> web.Response:
    session = request.app[SESSION]
    body = await _body(request)
    page = _page(body)
    action = request.match_info["action"]
    extra: dict[str, Any] = {}
    try:
        if action == "decide":
            seconds = body.get("seconds")
            seconds = float(seconds) if isinstance(seconds, (int, float)) else 0.0
            ok = session.decide(page, str(body.get("id")), str(body.get("choice")), seconds)
            if not ok:
                extra["notice"] = "already labelled in another page: here is the next item"
        elif action == "skip":
            session.skip(page, str(body.get("id")))
        elif action == "undo":
            if session.undo(page) is None:
                extra["notice"] = "nothing to undo on this page"
        else:
            raise web.HTTPNotFound()
    except InputError as exc:
        return web.json_response({"error": exc.message}, status=400)
    return web.json_response({**session.state(page), **extra})


def make_app(session: Session, token: str = "") -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=64 * 1024)
    app[SESSION] = session
    app[TOKEN] = token
    app.router.add_get("/", _index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/favicon.ico", _no_icon)
    app.router.add_post("/api/state", _state)
    app.router.add_post("/api/{action}", _act)
    return app


async def serve(
    app: web.Application,
    host: str,
    port: int,
    on_ready: Callable[[int], None],
    *,
    fallback: bool = False,
    on_error: Callable[[str], None] | None = None,
    drain: float = 60.0,
) -> None:
    """Serve until SIGINT or SIGTERM; on_ready(port) once listening. `fallback`: a port in use
    gives a free one instead of an error. `on_error`: one line for each request that failed
    (malformed HTTP, a bug), instead of aiohttp's traceback. `drain`: seconds the requests in
    flight have to finish once stopped (then they are cancelled)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=drain)
    await runner.setup()
    logger = logging.getLogger("aiohttp.server")
    one_line = None if on_error is None else _OneLine(on_error)
    propagate = logger.propagate
    if one_line is not None:
        logger.addHandler(one_line)
        logger.propagate = False
    try:
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not fallback:
                raise InputError(
                    f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port "
                    "(0: any free port)"
                ) from None
            site = web.TCPSite(runner, host, 0)
            await site.start()
        bound = runner.addresses[0][1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        on_ready(bound)
        await stop.wait()
    finally:
        await runner.cleanup()
        if one_line is not None:
            logger.removeHandler(one_line)
            logger.propagate = propagate


class _OneLine(logging.Handler):
    """aiohttp's request errors as one line each: what failed, not where in aiohttp."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__(logging.ERROR)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        why = "" if exc is None else f": {type(exc).__name__}: {' '.join(str(exc).split())}"
        self.say(f"{record.getMessage()}{why}"[:300])
