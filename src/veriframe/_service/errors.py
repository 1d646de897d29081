"""Errors as JSON: ``{"error": {"code", "message", "hint"}}`` with a fitting HTTP status.

Every route raises :class:`~veriframe.errors.VeriframeError` (or :class:`HTTPError` for
protocol-level refusals); one exception handler turns both into a JSON error, and anything
else into ``internal`` (500) without a traceback, a file path or an exception text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from veriframe.errors import ErrorKind, HTTPError, VeriframeError

# Codes whose status is not simply "the input is bad" (422) or "the service failed" (500).
_STATUS_BY_CODE = {
    "media.unsupported-type": 415,
    "media.unsupported-codec": 415,
    "credentials.unsupported-format": 415,
    "media.limits": 413,
    "http.too-large": 413,
    "http.unauthorized": 401,
    "http.forbidden": 403,
    "http.not-found": 404,
    "http.method-not-allowed": 405,
    "http.rate-limited": 429,
    "http.too-many-uploads": 429,
    "http.cross-origin": 403,
    "http.bad-host": 421,
    "http.upload-too-slow": 408,
    "http.busy": 503,
    "http.timeout": 504,
    "http.bad-request": 400,
    "resolver.not-found": 404,
    "resolver.bad-query": 400,
    "resolver.query-too-long": 414,
    "resolver.bad-manifest-id": 400,
    "resolver.unsupported-type": 415,
    "policy.not-found": 400,
}
_STATUS_BY_KIND = {ErrorKind.INPUT: 422, ErrorKind.OPERATIONAL: 500, ErrorKind.INTERNAL: 500}
_HTTP_CODES = {400: "http.bad-request", 401: "http.unauthorized", 403: "http.forbidden",
               404: "http.not-found", 405: "http.method-not-allowed", 413: "http.too-large",
               429: "http.rate-limited", 503: "http.busy", 504: "http.timeout"}


def status_for(exc: VeriframeError) -> int:
    """The HTTP status for a veriframe error."""
    if isinstance(exc, HTTPError):
        return exc.status
    status = getattr(exc, "status", None)  # a ResolverError a resolver route raised
    if isinstance(status, int):
        return status
    return _STATUS_BY_CODE.get(exc.code, _STATUS_BY_KIND[exc.kind])


def error_response(status: int, code: str, message: str, hint: str = "", *,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON error document with ``status``."""
    return JSONResponse({"error": {"code": code, "message": message, "hint": hint}},
                        status_code=status, headers=dict(headers or {}))


async def _veriframe_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VeriframeError)
    headers = exc.headers if isinstance(exc, HTTPError) else None
    return error_response(status_for(exc), exc.code, exc.message, exc.hint, headers=headers)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _internal(request: Request, exc: Exception) -> Response:
    # No exception text: it may hold a path or a value from the request.
    return error_response(500, "internal", "the service failed while handling the request",
                          "this is a bug in veriframe; the service log has the details")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    VeriframeError: _veriframe_error,
    HTTPException: _http_exception,
    Exception: _internal,
}
