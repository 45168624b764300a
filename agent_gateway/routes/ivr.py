"""The IVR part of the HTTP API: apply the flows (ivr_flows/*.yaml) to the running stack.

``POST /api/ivr/apply`` loads the flows again, checks everything, renders the whole
Asterisk configuration and reloads the dialplan of the running Asterisk (calls in
progress go on). Answers 200 with what was applied; 422 with the list of problems
(``details``, each ``file:line:column: what is wrong``) when the flows are not valid --
then nothing was written; 409 when a change needs a restart of the stack; 503 when
Asterisk did not confirm the reload (the files were written: they are loaded when it is
back, or by applying again).
"""

from __future__ import annotations

import structlog
from aiohttp import web

from acd.adapters.ami.client import AmiError
from acd.adapters.asterisk.process import AsteriskConsoleError
from acd.ivr.loader import FlowError, RestartNeeded
from agent_gateway.http import ApiError
from agent_gateway.keys import APPLY_FLOWS

log = structlog.get_logger(__name__)


async def apply_flows(request: web.Request) -> web.Response:
    try:
        applied = await request.app[APPLY_FLOWS]()
    except FlowError as exc:
        log.warning("ivr.apply_refused", problems=len(exc.problems))
        raise ApiError(422, "FLOWS_INVALID", f"the flows have {len(exc.problems)} "
                       "problem(s); nothing was changed", exc.problems) from None
    except RestartNeeded as exc:
        raise ApiError(409, "RESTART_NEEDED", "these changes need a restart of the stack; "
                       "nothing was changed", exc.changes) from None
    except (AmiError, AsteriskConsoleError, TimeoutError) as exc:
        raise ApiError(503, "ASTERISK_UNAVAILABLE", "the configuration was written but "
                       "Asterisk did not confirm the reload; it is loaded when Asterisk is "
                       "back, or apply again", str(exc)) from None
    return web.json_response(applied)


def setup_ivr_routes(app: web.Application) -> None:
    app.router.add_post("/api/ivr/apply", apply_flows)
