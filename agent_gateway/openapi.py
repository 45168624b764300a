"""The OpenAPI description of the HTTP API, made from the route table itself: every
``/api/`` route with its path parameters, the first line of its handler's docstring,
the JSON body it takes (the pydantic model registered with
:func:`agent_gateway.http.accepts`) and the error answer every route shares.

Served at ``GET /api/openapi.json`` (any signed-in user or the API token).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from agent_gateway.http import body_model

TITLE = "Madoguchi agent gateway"
VERSION = "1"
_PARAMETER = re.compile(r"\{([^}:]+)\}")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error_id", "message", "details"],
    "properties": {
        "error_id": {"type": "string", "description": "stable: programs rely on it"},
        "message": {"type": "string", "description": "for people"},
        "details": {"description": "more for programs (fields and their problems, ...)"},
    },
}


def describe(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s ``/api/`` routes."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith("/api/") or route.method in ("HEAD", "*"):
            continue
        operation: dict[str, Any] = {
            "operationId": f"{route.method.lower()}_{_operation_name(path)}",
            "summary": _summary(route.handler),
            "parameters": [{"name": name, "in": "path", "required": True,
                            "schema": {"type": "string"}}
                           for name in _PARAMETER.findall(path)],
            "responses": {
                "200": {"description": "done"},
                "default": {"description": "an error",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        model = body_model(route.handler)
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "mdg_session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }


def _operation_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", path.removeprefix("/api/").lower()).strip("_")


def _summary(handler: object) -> str:
    doc = getattr(handler, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(describe(request.app))


def setup_openapi_route(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
