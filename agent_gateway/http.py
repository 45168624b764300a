"""HTTP plumbing of the gateway: request bodies, the error answer, and the one table
that maps the error ids of the domain and the services to HTTP statuses.

Every failure reaches a client as ``{"error_id", "message", "details"}``: an
:class:`ApiError` raised by a handler, an error of a service (it carries an error id and
no HTTP status: the status is :data:`ERROR_STATUS`'s), an aiohttp HTTP error, or -- for
anything unexpected -- a generated error id that is also in the log (500).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from acd.adapters.ami.client import AmiError
from acd.adapters.asterisk.process import AsteriskConsoleError
from acd.adapters.db.engine import UNREACHABLE
from acd.domain.problems import Refused

log = structlog.get_logger(__name__)

#: The HTTP status of each error id the domain and the services raise. An id not named
#: here is a request the current state does not allow: 409.
ERROR_STATUS: dict[str, int] = {
    # agents and the roster
    "AGENT_UNKNOWN": 404,
    "AGENT_EXISTS": 409,
    # calls (call controls, on-demand recording)
    "CALL_UNKNOWN": 404,
    "NOT_YOUR_CALL": 403,
    "FORBIDDEN": 403,
    "TRANSFER_NOT_ALLOWED": 403,
    "CALL_NOT_CONNECTED": 409,
    "CALL_ENDED": 409,
    "NO_ATTENDED_TRANSFER": 409,
    "TRANSFER_ENDED": 409,
    "TRANSFER_NOT_ANSWERED": 409,
    "NO_THIRD_PARTY": 409,
    "HOLD_UNCHANGED": 409,
    "EXTENSION_UNKNOWN": 422,
    "EXTENSION_IS_AGENT": 422,
    "ASTERISK_REFUSED": 502,
    # recordings: the archive, sealing and erasing, on demand
    "RECORDING_UNKNOWN": 404,
    "RECORDING_ERASED": 410,
    "RECORDING_KEY_DESTROYED": 410,
    "RECORDING_NOT_SEALED": 409,
    "RECORDING_UNREADABLE": 409,
    "RECORDING_MISSING": 409,
    "RECORDING_FILE_MISSING": 409,
    "KEY_IN_RETENTION": 409,
    "RECORDING_NOT_ON_DEMAND": 409,
    "RECORDING_ALREADY_STARTED": 409,
    "RECORDING_NOT_STARTED": 409,
    "RECORDING_START_FAILED": 502,
    "RECORDING_STOP_FAILED": 502,
    # reports
    "LINE_UNKNOWN": 404,
    "QUEUE_UNKNOWN": 404,
    "BAD_RANGE": 422,
    # the event-information line
    "EVENTS_UNKNOWN": 404,
    "EVENT_UNKNOWN": 404,
    "STATUS_UNKNOWN": 422,
    "PROMPT_UNKNOWN": 422,
    "TITLE_NOT_SPOKEN": 422,
    # the emergency switch (LINE_UNKNOWN, PROMPT_UNKNOWN as above)
    "MODE_UNKNOWN": 422,
    "ANNOUNCEMENT_MISSING": 422,
    "END_IN_THE_PAST": 422,
    "TEXT_NOT_SPOKEN": 422,
    "PROMPT_UNUSABLE": 422,
    "EMERGENCY_NOT_ON": 409,
}
CONFLICT = 409



class ApiError(Exception):
    """An error the client can act on: rendered as {error_id, message, details} by
    :func:`error_middleware` with the HTTP status ``status_code``."""

    def __init__(self, status: int, error_id: str, message: str, details: object = None):
        super().__init__(message)
        self.status_code = status
        self.error_id, self.message, self.details = error_id, message, details


def status_of(error_id: str) -> int:
    return ERROR_STATUS.get(error_id, CONFLICT)


def api_error(exc: Refused) -> ApiError:
    """The answer to a refusal of the domain or a service."""
    return ApiError(status_of(exc.error_id), exc.error_id, exc.message, exc.details)


#: The largest row id a database holds (64-bit signed): a larger one names nothing.
MAX_ROW_ID = 2**63 - 1


def path_id(request: web.Request, error_id: str, what: str, name: str = "id") -> int:
    """The row id in the path (``{name}``); 404 ``error_id`` ("no such <what>") for
    anything but a number a database can hold."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ROW_ID:
        raise ApiError(404, error_id, f"no such {what}: {raw[:40]!r}")
    return int(raw)


class Body(BaseModel):
    """A request body: unknown fields are refused, the parsed body is frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


B = TypeVar("B", bound=Body)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

#: The body model of each handler that takes one (for the OpenAPI description).
_BODY_MODELS: dict[object, type[Body]] = {}


def accepts(model: type[Body]) -> Callable[[H], H]:
    """Mark a handler as taking a ``model`` body (it parses it with :func:`parse_body`)."""
    def register(handler: H) -> H:
        _BODY_MODELS[handler] = model
        return handler
    return register


def body_model(handler: object) -> type[Body] | None:
    return _BODY_MODELS.get(handler)


async def parse_body(request: web.Request, model: type[B]) -> B:
    """The JSON body as ``model``: 400 ``BAD_JSON`` if it is not JSON, 422
    ``INVALID_BODY`` with each field and its problem if it does not fit."""
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "BAD_JSON", "the body is not JSON") from None
    except RecursionError:
        raise ApiError(400, "BAD_JSON", "the body is nested too deeply") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "INVALID_BODY", "the body is not valid",
                       [{"field": ".".join(map(str, e["loc"])), "problem": e["msg"]}
                        for e in exc.errors()]) from None


def _answer(error_id: str, message: str | None, details: object, status: int) -> web.Response:
    return web.json_response({"error_id": error_id, "message": message, "details": details},
                             status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place that turns every failure into ``{error_id, message, details}``."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _answer(exc.error_id, exc.message, exc.details, exc.status_code)
    except Refused as exc:
        error = api_error(exc)
        return _answer(error.error_id, error.message, error.details, error.status_code)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _answer(f"HTTP_{exc.status}", exc.reason, None, exc.status)
    except UNREACHABLE as exc:
        log.warning("gateway.database_unavailable", path=request.path,
                    error=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        answer = _answer("DATABASE_UNAVAILABLE", "the database cannot be reached just now; "
                         "calls go on, try this again in a moment", None, 503)
        answer.headers["Retry-After"] = "5"
        return answer
    except (AmiError, AsteriskConsoleError) as exc:
        log.warning("gateway.asterisk_unavailable", path=request.path, error=str(exc)[:200])
        answer = _answer("ASTERISK_UNAVAILABLE", "Asterisk did not answer just now; calls in "
                         "progress go on, try this again in a moment", str(exc)[:200], 503)
        answer.headers["Retry-After"] = "5"
        return answer
    except Exception as exc:
        error_id = uuid.uuid4().hex[:12]
        log.exception("gateway.error", error_id=error_id, path=request.path)
        return _answer(error_id, "internal error", type(exc).__name__, 500)
