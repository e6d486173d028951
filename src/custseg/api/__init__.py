"""The HTTP API: assign customers to the segments of a fitted model.

Run it with ``custseg serve model.json`` (uvicorn, one worker), or build the ASGI
app yourself with :func:`create_app` and serve it however you like. Needs the
``api`` extra: ``pip install "custseg[api]"``.

Endpoints (JSON in, JSON out; the OpenAPI document is at ``/openapi.json``, the
interactive docs at ``/docs``):

``POST /v1/assign``
    Body: ``{"customers": [{...}, ...]}`` (the documented shape), or for
    convenience one customer object, or a bare list of them. A customer's fields
    are the model's columns (the spec's id column is optional; fields the model
    does not use are ignored); each value is a string, number, boolean or
    ``null`` (an empty cell, handled by the column's missing policy). Answer:
    ``{"assignments": [{"row", "id", "segment", "segment_name", "distance",
    "unfamiliar"}], "warnings": [problem, ...]}`` in request order; ``row``
    counts customers from 1 (the numbering of error messages), ``id`` echoes the
    spec's id column or is ``null``. An empty list is not an error: it answers
    ``200`` with no assignments. Customers left out by a ``missing = "drop"``
    policy get segment -1, an empty name, distance ``null`` and unfamiliar true.
``GET /v1/segments``
    The segments: name, training size and share, centroid of every numeric
    clustering column in original units, and distance quantiles.
``GET /healthz``
    ``{"status": "ok", "k": ..., "format_version": ...}``; never needs the token.

Every error answer, 4xx and 5xx alike, has one shape::

    {"error": {"status": 422, "code": "validation", "message": "one line",
               "problems": [{"code", "severity", "message", "column", "rows", "count"}]}}

``problems`` lists what validation found (empty for other errors). Bad input
is always a 4xx: 400 unreadable or too deeply nested JSON, 401 missing or wrong
bearer token, 404 unknown route, 405 wrong method, 408 body not received in time,
413 body over the byte limit or more customers than allowed, 415 not JSON, 422 data the
model cannot assign
(any :class:`~custseg.errors.CustsegError`). A 500 means a bug in custseg.

Limits: the byte limit is checked before anything is parsed (the
Content-Length header, and the bytes actually received); JSON deeper than
:data:`MAX_DEPTH` levels is refused. Parsing and assigning run in worker threads,
at most :data:`WORK_THREADS` at a time, so the event loop keeps answering. Slow
clients cannot hold the server: a body must arrive within :data:`BODY_SECONDS`
(408 otherwise), and under ``serve`` a connection that sends no complete request
head within :data:`HEAD_SECONDS` is closed. (More than :data:`LIMIT_CONCURRENCY`
connections at once still get uvicorn's plain-text 503.)

Security: with a token (``create_app(token=...)``; ``custseg serve`` reads
:data:`TOKEN_ENV`) every path but ``/healthz`` needs ``Authorization: Bearer
<token>``, compared in constant time. Without one, anyone who can reach the port
can use the API: ``serve`` listens on 127.0.0.1 by default.

The package, by job: :mod:`~custseg.api.app` (:func:`create_app`, the routes and
error handlers), :mod:`~custseg.api.schemas` (response shapes, request schemas,
``/openapi.json``), :mod:`~custseg.api.records` (body parsing, depth checks,
records, the frame the model reads), :mod:`~custseg.api.answers` (the answers'
bodies), :mod:`~custseg.api.plain` (the fast path for a few clean customers, on
the core's kernel), :mod:`~custseg.api.guard` (token, size limit, body
deadline), :mod:`~custseg.api.server` (:func:`serve`) and
:mod:`~custseg.api.errors` (the one error shape). The limits are re-exported
here for reading; each has one home, the module named above, which is where to
change it.
"""

from .answers import assign_records, segments_summary
from .app import WORK_THREADS, create_app
from .errors import ApiError, error_body
from .guard import BODY_SECONDS, TOKEN_ENV
from .plain import PLAIN_MAX_RECORDS
from .records import MAX_DEPTH, frame_of, parse_body, records_of
from .server import HEAD_SECONDS, LIMIT_CONCURRENCY, serve

__all__ = ["create_app", "serve", "ApiError", "error_body", "parse_body", "records_of",
           "frame_of", "assign_records", "segments_summary", "TOKEN_ENV", "MAX_DEPTH",
           "WORK_THREADS", "BODY_SECONDS", "HEAD_SECONDS", "LIMIT_CONCURRENCY", "PLAIN_MAX_RECORDS"]
