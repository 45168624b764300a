"""The agent gateway: a small aiohttp application beside the controller.

For now it reports the health of the stack; screen-pops, dispositions and the consoles
build on it. It listens on loopback only by default.
"""

from __future__ import annotations

import uuid
from typing import Protocol

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


class StackStatus(Protocol):
    @property
    def connected(self) -> bool: ...

    @property
    def calls(self) -> object: ...

    @property
    def events_handled(self) -> int: ...


STATUS = web.AppKey("status", StackStatus)


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return web.json_response({"error_id": None, "message": exc.reason,
                                  "details": exc.text}, status=exc.status)
    except Exception as exc:  # the one place that turns a crash into a clear answer
        error_id = uuid.uuid4().hex[:12]
        log.exception("gateway.error", error_id=error_id, path=request.path)
        return web.json_response({"error_id": error_id, "message": "internal error",
                                  "details": type(exc).__name__}, status=500)


async def healthz(request: web.Request) -> web.Response:
    status = request.app[STATUS]
    body = {"ami_connected": status.connected, "open_calls": len(status.calls),
            "events_handled": status.events_handled}
    return web.json_response(body, status=200 if status.connected else 503)


def create_app(status: StackStatus) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[STATUS] = status
    app.router.add_get("/healthz", healthz)
    return app
