"""What the gateway's handlers find on the application: one typed key per service or
store, set once by :func:`agent_gateway.app.create_app` from the stack's services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.adapters.db.access_log import AccessLog
from acd.adapters.db.call_records import CallRecords
from acd.adapters.db.escalations import EscalationStore
from acd.adapters.db.roster import Roster
from acd.adapters.db.sessions import Session, SessionStore
from acd.adapters.db.staff_ratings import StaffRatings
from acd.adapters.db.users import UserStore
from acd.adapters.db.voicemails import VoicemailStore
from acd.auth.policy import AuthPolicy
from acd.ivr.models import Site
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.store import RecordingStore
from acd.runtime import Controller
from acd.services.call_controls import CallControls
from acd.services.emergency import EmergencySwitch
from acd.services.event_line import EventLines

#: async () -> what was applied; raises FlowError, RestartNeeded or AmiError.
ApplyFlows = Callable[[], Awaitable[dict]]

CONTROLLER = web.AppKey("controller", Controller)
API_TOKEN = web.AppKey("api_token", str)
#: The database the reports are computed from.
DATABASE = web.AppKey("database", AsyncEngine)
ROSTER = web.AppKey("roster", Roster)
#: async () -> None: the roster in the database becomes the running one.
APPLY_ROSTER: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("apply_roster")
APPLY_FLOWS: web.AppKey[ApplyFlows] = web.AppKey("apply_flows")
#: () -> the flows now (line names, categories, away reasons, report targets), or None.
SITE: web.AppKey[Callable[[], Site | None]] = web.AppKey("site")
USERS = web.AppKey("users", UserStore)
SESSIONS = web.AppKey("sessions", SessionStore)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
AUTH_POLICY = web.AppKey("auth_policy", AuthPolicy)
ESCALATIONS = web.AppKey("escalations", EscalationStore)
VOICEMAILS = web.AppKey("voicemails", VoicemailStore)
CALL_RECORDS = web.AppKey("call_records", CallRecords)
CALL_CONTROLS = web.AppKey("call_controls", CallControls)
EVENT_LINES = web.AppKey("event_lines", EventLines)
EMERGENCY = web.AppKey("emergency", EmergencySwitch)
STAFF_RATINGS = web.AppKey("staff_ratings", StaffRatings)
RECORDING_STORE = web.AppKey("recording_store", RecordingStore)
ON_DEMAND = web.AppKey("on_demand", OnDemandRecorder)
#: The console :class:`Session` of a request (absent for the API token).
SESSION_KEY = web.RequestKey("session", Session)
#: Where the scheduled reports are written (acd/reports/scheduler.py).
REPORTS_DIR = web.AppKey("reports_dir", Path)
