"""One error format: every answer of 400 and above is a :class:`~cloud.api.schemas.Problem`,
``{"detail": "<one readable sentence>"}`` — a request that is not valid too (422), which
also lists each problem under ``errors``; and the OpenAPI document says so."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cloud.api.schemas import Problem
from plumbing.issues import errors_summary

PROBLEM_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "not logged in, or the token is unknown or revoked"},
    403: {"model": Problem, "description": "the caller's role or scopes do not allow it"},
}
"""The answers every API operation may give, whatever it is."""

INVALID = (
    "the request is not valid: `detail` says why; where its shape is wrong, `errors` lists "
    "each problem"
)
_DEFAULT_DESCRIPTIONS = {"Validation Error", HTTPStatus(422).phrase, "Unprocessable Entity"}
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_problems(app: FastAPI) -> None:
    """Answer requests that are not valid with a Problem, and document them so."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            _validation_answers_are_problems(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    problem = Problem(detail=errors_summary(errors), errors=[_plain(e) for e in errors])
    return JSONResponse(problem.model_dump(), status_code=422)


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    """An error as JSON says it: where, what, its kind and context — not the value sent,
    which may be long or a secret (a password)."""
    plain: dict[str, Any] = {
        "loc": list(error.get("loc", ())),
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
    }
    if context := error.get("ctx"):
        plain["ctx"] = {
            key: value
            if isinstance(value, str | int | float | bool) or value is None
            else str(value)
            for key, value in context.items()
        }
    return plain


def _validation_answers_are_problems(document: dict[str, Any]) -> None:
    """Each operation's 422 answer as a Problem, not FastAPI's HTTPValidationError."""
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            if answer.get("description", "Validation Error") in _DEFAULT_DESCRIPTIONS:
                answer["description"] = INVALID
            answer["content"] = {"application/json": {"schema": problem}}
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
