"""The FastAPI app: :func:`create_app`, its routes and its error handlers.

Parsing and assigning run in worker threads, at most :data:`WORK_THREADS` at a
time (an anyio limiter of the server's own), so the event loop keeps answering.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations
# at run time, and ``Request`` is imported inside create_app (the extra is optional).
from typing import Any

from .. import __version__
from ..errors import CustsegError, ParameterError, Problem
from ..model import SegmentModel
from . import guard
from .answers import assign_records, segments_summary
from .errors import STATUS_CODES, ApiError, dumps, error_body, short
from .records import is_json, parse_body, records_of
from .schemas import (
    AssignResponse,
    Health,
    SegmentsResponse,
    get_responses,
    openapi_document,
    post_responses,
    request_schemas,
)

__all__ = ["create_app", "require_extra", "WORK_THREADS"]

WORK_THREADS = 4
"""Requests parsed and assigned at the same time (bounds memory as well as CPU)."""

_ROUTES_TEXT = ("POST /v1/assign, GET /v1/segments, POST /v1/clv, GET /healthz "
                "(see /openapi.json)")


def require_extra(what: str, modules: tuple[str, ...]) -> None:
    """A :class:`ParameterError` saying how to install the api extra when a module is missing."""
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            raise ParameterError(f"{what} needs the api extra", where=f"cannot import {name}",
                                 fix='pip install "custseg[api]"') from None


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"the {name!r} parameter of create_app must be a positive integer, "
                             f"got {value!r}")


def _description() -> str | None:
    """The OpenAPI description: the introduction of :mod:`custseg.api`'s docstring."""
    from .. import api  # the package, whole by the time an app is created

    return api.__doc__.split("Endpoints", 1)[0].strip() if api.__doc__ else None


def create_app(model: SegmentModel, *, token: str | None = None,
               max_body_bytes: int = 10 * 1024 * 1024, max_records: int = 100_000):
    """A FastAPI app serving ``model`` (no global state: one app per call).

    Parameters
    ----------
    model : SegmentModel
        The fitted model (e.g. from :func:`custseg.load_model`).
    token : str, optional
        When given, every path but ``/healthz`` needs ``Authorization: Bearer <token>``.
    max_body_bytes : int
        Largest request body accepted (413 above), checked before parsing.
    max_records : int
        Most customers accepted in one request (413 above).
    """
    require_extra("custseg.api.create_app", ("fastapi",))
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    if not isinstance(model, SegmentModel):
        raise ParameterError(f"the 'model' parameter of create_app must be a SegmentModel, got "
                             f"{type(model).__name__}", fix="load one with custseg.load_model")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ParameterError("the 'token' parameter of create_app must be a non-empty string or "
                             f"None, got {token!r}")
    _check_positive("max_body_bytes", max_body_bytes)
    _check_positive("max_records", max_records)

    def json_response(status: int, content: Any, headers: dict[str, str] | None = None):
        return Response(dumps(content), status_code=status, media_type="application/json",
                        headers=headers)

    def error_response(status: int, code: str, message: str, problems=None, headers=None):
        return json_response(status, error_body(status, code, message, problems), headers)

    # ---- error handlers: one shape for everything
    async def on_api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.problems, exc.headers)

    async def on_custseg_error(request: Request, exc: CustsegError):
        problems = [p.to_dict() for p in getattr(exc, "problems", [])]
        return error_response(422, exc.code, exc.message, problems)

    async def on_http_error(request: Request, exc: StarletteHTTPException):
        status = exc.status_code
        path = short(request.url.path)
        if status == 404:
            message = f"there is nothing at {path!r}; the API has {_ROUTES_TEXT}"
        elif status == 405:
            allow = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {path!r}; use {allow or 'another method'}"
        else:
            message = str(exc.detail)
        code = STATUS_CODES.get(status, "client-error" if status < 500 else "internal")
        return error_response(status, code, message, headers=getattr(exc, "headers", None))

    async def on_request_validation(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(Problem(code="invalid-request", severity="error",
                                    message=f"{where}: {err.get('msg', 'invalid')}",
                                    column=where or None, count=1).to_dict())
        first = problems[0]["message"] if problems else "invalid request"
        return error_response(422, "validation", first, problems)

    async def on_bug(request: Request, exc: Exception):
        # Starlette re-raises after answering, so the server logs the traceback.
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); this is a "
                              "bug in custseg, please report it")

    app = FastAPI(
        title="custseg",
        version=__version__,
        summary="Assign customers to the segments of a fitted custseg model.",
        description=_description(),
        exception_handlers={
            ApiError: on_api_error,
            CustsegError: on_custseg_error,
            StarletteHTTPException: on_http_error,
            RequestValidationError: on_request_validation,
            Exception: on_bug,
        },
        redoc_url=None,
    )
    app.state.model = model
    segments_body = segments_summary(model)
    health_body = {"status": "ok", "k": model.k, "format_version": model.format_version}
    schemas = request_schemas(model, max_records)
    limiter = None  # created on first use: it needs a running event loop

    def work(body: bytes) -> bytes:
        records = records_of(parse_body(body), max_records=max_records)
        return dumps(assign_records(model, records))

    async def answer(request: Request, fn) -> Response:
        nonlocal limiter
        import anyio

        if not is_json(request.headers.get("content-type", "")):
            given = request.headers.get("content-type")
            raise ApiError(415, "unsupported-media-type",
                           (f"the body must be JSON, got content type {short(given)!r}" if given
                            else "the request has no content type")
                           + "; fix: send Content-Type: application/json")
        try:
            body = await request.body()
        except ClientDisconnect:  # the client went away mid-upload: not a bug, nobody to answer
            raise ApiError(400, "bad-request", "the client closed the connection before the "
                           "whole body arrived") from None
        if limiter is None:
            limiter = anyio.CapacityLimiter(WORK_THREADS)
        payload = await anyio.to_thread.run_sync(fn, body, limiter=limiter)
        return Response(payload, media_type="application/json")

    @app.post("/v1/assign", response_model=AssignResponse, responses=post_responses(),
              operation_id="assign", summary="Assign customers to segments")
    async def assign(request: Request):
        """The segment of every customer in the body, in request order."""
        return await answer(request, work)

    def clv_work(body: bytes) -> bytes:
        from .clv import clv_answer

        return dumps(clv_answer(model, parse_body(body), max_records=max_records))

    @app.post("/v1/clv", responses=post_responses(), operation_id="clv",
              summary="Lifetime value from frequency, recency, T and monetary value")
    async def clv(request: Request):
        """P(alive), expected purchases, expected average value and CLV of every customer in the
        body (``{"customers": [{"frequency", "recency", "T", "monetary_value"}]}``, times in the
        model's unit), from the model's lifetime value section (custseg run on an order log)."""
        return await answer(request, clv_work)

    @app.get("/v1/segments", response_model=SegmentsResponse, responses=get_responses(),
             operation_id="segments", summary="The model's segments")
    async def segments():
        """Names, training sizes, centroids (numeric columns, original units) and distances."""
        return segments_body

    @app.get("/healthz", response_model=Health, operation_id="health", summary="Liveness check")
    async def healthz():
        """Always 200 while the server runs; needs no token."""
        return health_body

    def openapi() -> dict:
        if not app.openapi_schema:
            app.openapi_schema = openapi_document(app, schemas, token=token,
                                                  open_paths=guard.OPEN_PATHS)
        return app.openapi_schema

    app.openapi = openapi
    # the guard reads guard.BODY_SECONDS when it is built
    app.add_middleware(guard.Guard, token=token, max_body_bytes=max_body_bytes)
    return app
