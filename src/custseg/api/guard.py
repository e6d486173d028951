"""The ASGI guard in front of the app: the bearer token, the body size limit, the body deadline.

Everything here happens before a byte of the body is parsed, in plain ASGI (no
FastAPI), so that a client without the token, with a body over the limit or
trickling it cannot make the app read, parse or wait.
"""

import hmac

from .errors import ApiError, dumps, error_body

__all__ = ["Guard", "TOKEN_ENV", "BODY_SECONDS", "OPEN_PATHS", "send_error"]

TOKEN_ENV = "CUSTSEG_API_TOKEN"
"""The environment variable ``custseg serve`` reads the bearer token from."""
BODY_SECONDS = 30.0
"""A request body must arrive whole within this many seconds of the app starting to read
it; a client that stalls or trickles it gets 408 and its connection is closed."""
OPEN_PATHS = frozenset({"/healthz"})
"""Paths that never need the token."""


async def send_error(send, status: int, code: str, message: str,
                     headers: dict[str, str] | None = None) -> None:
    """Answer in the one error shape straight through ASGI ``send`` (before the app runs)."""
    body = dumps(error_body(status, code, message))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


class Guard:
    """Pure ASGI middleware: the bearer token, then the body size limit, before parsing.

    The limit is checked twice: against the Content-Length header (so a large
    body is refused before a byte of it is read) and against the bytes actually
    received (a chunked body has no Content-Length). The body must also arrive
    within ``body_seconds`` (:data:`BODY_SECONDS`), or the answer is 408.
    """

    def __init__(self, app, *, token: str | None, max_body_bytes: int,
                 body_seconds: float | None = None):
        self.app = app
        self.token = token.encode("utf-8") if token else None
        self.max_body_bytes = max_body_bytes
        self.body_seconds = BODY_SECONDS if body_seconds is None else float(body_seconds)

    def _authorized(self, scope) -> bool:
        value = _header(scope, b"authorization")
        if value is None:
            return False
        scheme, _, credentials = value.strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.token)

    def _too_large(self) -> ApiError:
        return ApiError(413, "payload-too-large", f"the request body is larger than "
                        f"{self.max_body_bytes:,} bytes; fix: send fewer customers per request")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token is not None and scope["path"] not in OPEN_PATHS and not self._authorized(scope):
            has = _header(scope, b"authorization") is not None
            await send_error(send, 401, "unauthorized",
                              ("the bearer token is wrong" if has else "this API needs a bearer token")
                              + f"; fix: send the header Authorization: Bearer <token> (the token "
                              f"the server was given in {TOKEN_ENV})",
                              headers={"www-authenticate": "Bearer"})
            return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
                if declared < 0:
                    raise ValueError
            except ValueError:
                await send_error(send, 400, "bad-request", "the Content-Length header is not a "
                                  "non-negative whole number")
                return
            if declared > self.max_body_bytes:
                err = self._too_large()
                await send_error(send, err.status, err.code, err.message,
                                  headers={"connection": "close"})
                return
        received = 0
        started = False
        body_done = False
        deadline: float | None = None

        async def limited_receive():
            nonlocal received, body_done, deadline
            if body_done:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            import anyio

            if deadline is None:
                deadline = anyio.current_time() + self.body_seconds
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise ApiError(408, "timeout", f"the request body did not arrive within "
                               f"{self.body_seconds:g} seconds; fix: send the whole body at once "
                               "(a slow or stalled upload is cut off)",
                               headers={"connection": "close"})
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise self._too_large()
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except ApiError as exc:  # normally answered by the app's handler; this is the fallback
            if started:
                raise
            await send_error(send, exc.status, exc.code, exc.message, headers=exc.headers)
