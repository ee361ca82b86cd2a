"""One error format, and an OpenAPI document that describes every field and bounds every
input: a request not valid answers a Problem like every other 4xx."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_a_request_not_valid_says_why_in_a_sentence_and_lists_each_problem(
    client: TestClient,
) -> None:
    answer = client.post("/api/v1/communities", json={"slug": "Not A Slug", "name": "", "extra": 1})
    assert answer.status_code == 422
    problem = answer.json()
    assert isinstance(problem["detail"], str)
    assert problem["detail"].startswith("body.slug: String should match pattern")
    assert "body.name: String should have at least 1 character" in problem["detail"]
    assert "body.extra: Extra inputs are not permitted" in problem["detail"]
    locs = [error["loc"] for error in problem["errors"]]
    assert locs == [["body", "slug"], ["body", "name"], ["body", "extra"]]
    assert all("input" not in error for error in problem["errors"]), "what was sent is not echoed"
    query = client.get("/api/v1/zones", params={"limit": 0})
    assert query.json()["detail"] == "query.limit: Input should be greater than or equal to 1"
    broken = client.post(
        "/api/v1/communities", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and isinstance(broken.json()["detail"], str)
    # PostgreSQL stores no NUL character (nor compares one): refused before it gets there
    nul = client.post("/api/v1/communities", json={"slug": "nul", "name": "a\u0000b"})
    assert nul.status_code == 422 and nul.json()["detail"].startswith("body.name: ")
    login = client.post("/api/v1/auth/login", json={"username": "a\u0000", "password": "x"})
    assert login.status_code == 422
    assert client.get("/api/v1/gateways/gw%00").status_code == 422
    missing = client.get("/api/v1/zones/999999")
    assert (missing.status_code, missing.json()) == (404, {"detail": "zone 999999 does not exist"})


def test_the_openapi_document_shows_every_problem_as_one(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["properties"]) == {"detail", "errors"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path)


def test_every_field_and_parameter_is_described(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (method, path, parameter["name"])


def test_every_input_is_bounded(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    unbounded: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method} {path} {parameter['name']}"
                unbounded += _unbounded(parameter["schema"], schemas, where, query=True)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                unbounded += _unbounded(body["schema"], schemas, f"{method} {path} body")
    assert unbounded == []


def _unbounded(
    schema: dict[str, Any], schemas: dict[str, Any], where: str, *, query: bool = False
) -> list[str]:
    """Where in ``schema`` a string has no maximum length, a number no maximum, a list of
    a body no maximum size."""
    if "$ref" in schema:
        return _unbounded(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas, where, query=query)
    if "anyOf" in schema:
        return [
            problem
            for option in schema["anyOf"]
            for problem in _unbounded(option, schemas, where, query=query)
        ]
    if "enum" in schema or "const" in schema:
        return []
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and schema.get("format") != "date-time":
        return [f"{where}: string"]
    if kind == "integer" and "maximum" not in schema:
        return [f"{where}: integer"]
    if kind == "array":
        problems = _unbounded(schema["items"], schemas, f"{where}[]", query=query)
        return problems + ([] if query or "maxItems" in schema else [f"{where}: array"])
    if kind == "object":
        return [
            problem
            for field, spec in schema.get("properties", {}).items()
            for problem in _unbounded(spec, schemas, f"{where}.{field}", query=query)
        ]
    return []
