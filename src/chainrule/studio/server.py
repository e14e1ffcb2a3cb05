"""The studio's web application and server: the page's files, the API, and their guard.

As a local server must be: it answers only requests whose ``Host`` header names the
address it serves (a defence against DNS rebinding), every ``/api/`` request needs
the run's unguessable token (in a header, the query or the cookie set when the page is
opened with it), it serves no file outside its assets, and every refusal is a 4xx
with a one-line JSON message, never a traceback.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from chainrule.studio.api import one_line, router
from chainrule.studio.sessions import Sessions, StudioError
from chainrule.studio.sources import UploadError, Uploads

ASSETS = Path(__file__).parent / "assets"
TOKEN_HEADER = "x-studio-token"
COOKIE = "chainrule_studio_token"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def new_token() -> str:
    """An unguessable token for one run of the server."""
    return secrets.token_urlsafe(32)


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The ``Host`` headers to accept; None (any) when listening on every address."""
    if host in ("0.0.0.0", "::"):
        return None
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    return {f"{name}:{port}".lower() for name in names} | {name.lower() for name in names}


class Guard:
    """ASGI middleware: the Host check for every request, the token for ``/api/``."""

    def __init__(self, app: Any, token: str, hosts: set[str] | None) -> None:
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "").strip().lower()
        if self.hosts is not None and host not in self.hosts:
            await _refuse(
                send,
                400,
                "this server answers only requests for the address it serves "
                "(the Host header does not match); open the URL chainrule studio printed",
            )
            return
        path = scope.get("path", "")
        if (path == "/api" or path.startswith("/api/")) and not self.authorised(scope, headers):
            await _refuse(
                send, 403, "missing or wrong token; open the URL that chainrule studio printed"
            )
            return
        await self.app(scope, receive, send)

    def authorised(self, scope: Scope, headers: dict[str, str]) -> bool:
        return any(
            secrets.compare_digest(given, self.token) for given in given_tokens(scope, headers)
        )


def given_tokens(scope: Scope, headers: dict[str, str]) -> Iterable[str]:
    """Every token the request carries: header, query parameter and cookie."""
    if TOKEN_HEADER in headers:
        yield headers[TOKEN_HEADER]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    yield from query.get("token", [])
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001  (a malformed cookie header carries no token)
        return
    if COOKIE in cookie:
        yield cookie[COOKIE].value


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    problems = err.errors()
    if not problems:
        return "the request is not valid"
    first = problems[0]
    if first.get("type") == "json_invalid":
        reason = str((first.get("ctx") or {}).get("error", "")).strip()
        return "malformed JSON" + (f": {reason}" if reason else "") + "; send a JSON object"
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query"))
    message = str(first.get("msg", "not valid"))
    if first.get("type") == "extra_forbidden":
        message = "is not a field of this request; see docs/studio.md for the fields"
    elif first.get("type") == "model_attributes_type":
        return "the body must be a JSON object of named fields (Content-Type: application/json)"
    shown = first.get("input")
    value = "" if isinstance(shown, (dict, list)) or shown is None else f", got {shown!r}"
    return f"{where or 'request'}: {message}{value}"


def create_app(
    token: str,
    hosts: set[str] | None,
    *,
    start: dict[str, Any] | None = None,
    uploads: Uploads | None = None,
    assets: Path = ASSETS,
) -> Any:
    """The studio's ASGI application, guarded (see :class:`Guard`).

    ``start`` is the set-up the page opens with when its URL names none (from
    ``chainrule studio --example`` or ``--csv``); ``hosts`` the accepted Host headers.
    """
    app = FastAPI(
        title="chainrule studio",
        version="1",
        description="The JSON API of chainrule studio (docs/studio.md).",
        docs_url=None,  # the interactive pages load scripts from a CDN
        redoc_url=None,
    )
    app.state.uploads = uploads or Uploads()
    app.state.sessions = Sessions(app.state.uploads)
    app.state.start = start
    app.state.guard = threading.Lock()
    app.include_router(router)

    @app.exception_handler(StudioError)
    async def studio_error(request: Request, err: StudioError) -> JSONResponse:
        return _error(err.status, err.message)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, err: UploadError) -> JSONResponse:
        return _error(err.status, one_line(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return _error(400, _validation_message(err))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        messages = {404: f"nothing at {request.url.path[:80]}", 405: "method not allowed here"}
        return _error(err.status_code, messages.get(err.status_code, str(err.detail)))

    for kind in (ValueError, TypeError):
        app.add_exception_handler(kind, _library_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        page = assets / "index.html"
        if not page.is_file():
            return _error(404, "the page's files are missing from this installation")
        response: Response = FileResponse(page, headers={"Cache-Control": "no-store"})
        given = request.query_params.get("token", "")
        if given and secrets.compare_digest(given, token):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="assets")
    return Guard(app, token, hosts)


async def _library_error(request: Request, err: Exception) -> Response:
    return _error(400, one_line(err))


async def _unexpected(request: Request, err: Exception) -> Response:
    return _error(500, f"the studio failed on this request ({type(err).__name__}): {one_line(err)}")


def bind(host: str, port: int | None) -> socket.socket:
    """A listening socket: on ``port``, or 8765, or else any free port when none is given."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    tries = [port] if port is not None else [8765, 0]
    error: OSError | None = None
    for candidate in tries:
        # proto named: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it each small response waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as err:
            sock.close()
            error = err
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    raise OSError(f"cannot listen on {host}:{port}: {error.strerror if error else 'unknown'}")


def serve(app: Any, sock: socket.socket) -> None:
    """Run ``app`` on the bound socket until Ctrl-C (uvicorn's graceful shutdown)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])
