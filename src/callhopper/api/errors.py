"""Every error leaves as ``{"error": {"code": ..., "message": ...}}`` with one status per class."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from callhopper.domain.errors import (
    AlreadyExists,
    CallhopperError,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    SchemaOutOfDate,
)

#: The HTTP status of each error class: the only place the mapping lives.
STATUS: dict[type[CallhopperError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    SchemaOutOfDate: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


#: The code of a 500: a bug or an outage, never the caller's mistake.
INTERNAL_ERROR = "internal_error"


def status_of(error: CallhopperError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(CallhopperError)
    async def _domain(_request: Request, exc: CallhopperError) -> JSONResponse:
        status = status_of(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in exc.errors()]
        return JSONResponse(
            error_body(
                "invalid_input", "; ".join(p["message"] for p in problems), problems=problems
            ),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Starlette raises the exception again once this response is sent, so the server
        # still logs it with its traceback; the client learns nothing of SQL or code.
        return JSONResponse(
            error_body(INTERNAL_ERROR, "internal error: the server could not answer this request"),
            status_code=500,
        )


def _describe(error: Any) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
    field = ".".join(location[1:] if location and location[0] in ("query", "path") else location)
    message = str(error.get("msg", "invalid"))
    return {"field": field, "message": f"{field}: {message}" if field else message}
