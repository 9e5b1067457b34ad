"""Every error leaves as ``{"error": {"code": ..., "message": ...}}`` with one status per class."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from callhopper.domain.errors import (
    AlreadyExists,
    CallhopperError,
    Conflict,
    Contention,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    SchemaOutOfDate,
    TooManyAttempts,
)

#: The HTTP status of each error class: the only place the mapping lives.
STATUS: dict[type[CallhopperError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    TooManyAttempts: 429,
    SchemaOutOfDate: 503,
    Contention: 503,
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
    429: "too_many_attempts",
}


_RANGE_ERRORS = frozenset({"less_than_equal", "greater_than_equal"})

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
        if isinstance(exc, TooManyAttempts):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), status_code=status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        unknown = next((e for e in errors if _is_impossible_path_id(e)), None)
        if unknown is not None:
            field = _describe(unknown)["field"]
            return JSONResponse(
                error_body("not_found", f"no object has {field} {unknown['input']}", field=field),
                status_code=404,
            )
        problems = [_describe(e) for e in errors]
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


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: not_found, invalid_input, …")
    message: str = Field(description="For people: names the field (or line) and the reason.")
    details: dict[str, Any] | None = Field(
        None,
        description="Structured facts: field, right, retry_after_s, problems "
        "(one {field, message} per problem of a request that fails validation).",
    )


class ErrorPublic(BaseModel):
    """The one shape of every error the API answers."""

    error: ErrorDetail


#: The errors every operation may answer, documented once for all of them.
_DOCUMENTED = {
    401: "Not authenticated: no credentials, or a wrong, expired or revoked token or session.",
    403: "The right is missing (details.right), or a cookie request came from another site.",
    404: "No such object, or one the caller may not know of.",
    409: "The object's state forbids the change, or a name is taken.",
    413: "The upload is too large.",
    415: "The upload is neither CSV nor a multipart form.",
    422: "Invalid input: the message names the field and the reason.",
    429: "Too many failed sign-ins: Retry-After says when to try again.",
    503: "The database broke a deadlock or the schema is behind: nothing was changed.",
}


def document(app: FastAPI) -> None:
    """Add the error responses, in the one error shape, to every operation of the OpenAPI
    schema (replacing FastAPI's own 422 shape, which the API never answers)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorPublic"] = ErrorPublic.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["ErrorPublic"].pop("$defs", {}))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        reference = {"$ref": "#/components/schemas/ErrorPublic"}
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                for status, description in _DOCUMENTED.items():
                    responses[str(status)] = {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _is_impossible_path_id(error: Any) -> bool:
    """A path id out of its column's range (:mod:`callhopper.api.ids`): no object has it,
    so the path names nothing (404), as for any other unknown id."""
    location = error.get("loc", ())
    return bool(location) and location[0] == "path" and error.get("type") in _RANGE_ERRORS


def _describe(error: Any) -> dict[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
    field = ".".join(location[1:] if location and location[0] in ("query", "path") else location)
    message = str(error.get("msg", "invalid"))
    return {"field": field, "message": f"{field}: {message}" if field else message}
