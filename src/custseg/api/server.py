"""``custseg serve``: the model behind uvicorn, one worker, with limits on slow clients.

:func:`serve` binds the socket itself (so that a bad host or a port in use is a
one-line :class:`~custseg.errors.ParameterError`), and runs uvicorn's h11
protocol with a deadline for request heads (:data:`HEAD_SECONDS`).
"""

import logging
import os
import socket

from ..errors import ParameterError
from .app import create_app, require_extra
from .guard import TOKEN_ENV

__all__ = ["serve", "LIMIT_CONCURRENCY", "KEEP_ALIVE_SECONDS", "SHUTDOWN_SECONDS", "HEAD_SECONDS"]

LIMIT_CONCURRENCY = 32
"""Connections uvicorn accepts at once under ``serve``; more get 503."""
KEEP_ALIVE_SECONDS = 2
SHUTDOWN_SECONDS = 5
HEAD_SECONDS = 10.0
"""Under ``serve``, a connection must send a complete request head (request line and
headers) within this many seconds of opening, and of each answer; otherwise it is closed.
Without it, a few dozen idle or trickling connections would hold every slot of
:data:`LIMIT_CONCURRENCY` and everyone else would get 503."""


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ParameterError(f"cannot listen on {host!r}: {exc}", fix="pass a valid --host") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ParameterError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             fix="choose another --port, or stop the program using it") from None
    return sock


def _protocol_with_head_deadline():
    """uvicorn's h11 protocol, closing a connection that sends no complete request head in time.

    uvicorn arms its keep-alive timer only after an answer, and cancels it at the
    first byte of the next request: a connection that sends nothing, or trickles
    its headers, is kept forever and counts against ``limit_concurrency``. Here a
    timer of :data:`HEAD_SECONDS` runs whenever a request head is awaited (from
    the connection's start and after each answer) and stops when a head is
    complete; the body has its own deadline (:data:`BODY_SECONDS`, in the app).
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _head_timer = None

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_timeout)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timeout(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and (self.cycle is None
                                                    or self.cycle.response_complete):
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_head_timer()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a complete request head started a new cycle
                self._cancel_head_timer()

        def on_response_complete(self) -> None:
            self._arm_head_timer()  # before: a pipelined request may start a cycle in there
            super().on_response_complete()

        def connection_lost(self, exc) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

    return Protocol


def serve(model_path: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8000,
          limit_concurrency: int = LIMIT_CONCURRENCY) -> None:
    """Serve the model at ``model_path`` with uvicorn until interrupted.

    One worker, no access log, at most ``limit_concurrency`` connections at once
    (more get 503), short keep-alive. The bearer token comes from
    :data:`TOKEN_ENV` when it is set. Returns normally after Ctrl+C (SIGINT); on
    SIGTERM uvicorn shuts down gracefully and then ends the process by that
    signal. Raises :class:`~custseg.errors.ModelError` when the model cannot be
    loaded and :class:`~custseg.errors.ParameterError` when the api extra is
    missing or the address cannot be used.
    """
    require_extra("custseg serve", ("fastapi", "uvicorn"))
    import uvicorn

    from ..modelfile import load_model

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ParameterError(f"the port must be a whole number from 0 to 65535, got {port!r}")
    model = load_model(model_path)
    token = os.environ.get(TOKEN_ENV) or None
    app = create_app(model, token=token)
    sock = _bind(host, port)
    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False,
                            limit_concurrency=limit_concurrency,
                            timeout_keep_alive=KEEP_ALIVE_SECONDS,
                            timeout_graceful_shutdown=SHUTDOWN_SECONDS, server_header=False,
                            http=_protocol_with_head_deadline(),
                            lifespan="off", log_level="info")
    bound = sock.getsockname()
    logging.getLogger("uvicorn.error").info(
        "custseg: serving a %d-segment model on http://%s:%d (%s)", model.k,
        f"[{bound[0]}]" if sock.family == socket.AF_INET6 else bound[0], bound[1],
        "bearer token required" if token else f"no token: set {TOKEN_ENV} to require one")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # Ctrl+C is how a server is stopped; uvicorn re-raises it after
        pass  # shutting down gracefully, and "until interrupted" is the normal end
    finally:
        sock.close()
