"""The one shape of every error answer of the API, and the bytes of a JSON answer.

The exception types of custseg's own checks stay in :mod:`custseg.errors`; the app
answers any :class:`~custseg.errors.CustsegError` with 422 in this shape.
"""

import json
from typing import Any

__all__ = ["ApiError", "error_body", "dumps", "short", "STATUS_CODES"]

STATUS_CODES = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 406: "not-acceptable", 408: "timeout", 413: "payload-too-large",
    415: "unsupported-media-type", 422: "validation", 429: "too-many-requests",
}
"""The ``code`` of an error answer for a status the app raises no ApiError for itself."""


class ApiError(Exception):
    """An HTTP error answer in the one error shape (raised inside the app)."""

    def __init__(self, status: int, code: str, message: str, problems: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.code = code
        self.message = " ".join(message.split())
        self.problems = problems or []
        self.headers = headers
        super().__init__(self.message)


def error_body(status: int, code: str, message: str, problems: list[dict] | None = None) -> dict:
    """The JSON body of every error answer."""
    return {"error": {"status": int(status), "code": code, "message": " ".join(str(message).split()),
                      "problems": list(problems or [])}}


def dumps(content: Any) -> bytes:
    """The bytes of a JSON answer: UTF-8, compact, no NaN."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters (for echoing what a client sent in a message)."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
