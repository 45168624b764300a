"""Who may play, search and list what: the recordings API under each role, in a real
aiohttp server with a real database (both). The request's principal is set by a tiny
middleware from test headers, as the sign-in middleware sets it for session users."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.domain.actor import SERVICE, Actor
from acd.domain.calls import CallState
from acd.recordings import Keyring
from acd.recordings.on_demand import OnDemandRecorder
from acd.recordings.store import RecordingStore
from agent_gateway.auth.middleware import enforce_access
from agent_gateway.auth.principal import PRINCIPAL_KEY
from agent_gateway.http import error_middleware
from agent_gateway.keys import ON_DEMAND, RECORDING_STORE
from agent_gateway.routes.recordings import setup_recording_routes
from tests.support.clock import Clock
from tests.support.recordings import T0, call, write_wav

MINE, THEIRS = "1743467400.7", "1743467500.8"


@web.middleware
async def principal_from_headers(request: web.Request, handler):
    role = request.headers.get("X-Test-Role")
    request[PRINCIPAL_KEY] = SERVICE if role == "service" else Actor(
        user=request.headers.get("X-Test-User", "someone"), role=role,
        agent_id=request.headers.get("X-Test-Agent"))
    return await handler(request)


def as_(role: str, user: str = "利用者", agent: str | None = None) -> dict[str, str]:
    headers = {"X-Test-Role": role, "X-Test-User": user}
    if agent:
        headers["X-Test-Agent"] = agent
    return headers


class _Calls:
    def __init__(self, *calls: CallState) -> None:
        self.active = {c.uniqueid: c for c in calls}


async def serve(state_dir: Path, database_url: str, *, agents_play_own: bool,
                gated: bool = False):
    """The recording routes alone; ``gated``: behind the gateway's role table too (as in
    the stack), else only the recording API's own rules answer."""
    await upgrade(database_url)
    engine = make_engine(database_url)
    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=Clock(T0 + 3600),
                           settle_seconds=0.01, agents_play_own=agents_play_own)
    for uid, agent, freq in ((MINE, "1001", 440.0), (THEIRS, "1002", 660.0)):
        path = state_dir / "recordings" / f"{uid}.wav"
        write_wav(path, 2.0, freq)
        await store.seal_after_call(call(uid, "0312345678", path, agent=agent))
    policies = {"0570000123": "always", "0570000500": "on_demand"}
    calls = _Calls(
        CallState("live-od", "0570000500", "main", "0311112222", T0, None, agent="1001",
                  answered_at=T0 + 5),
        CallState("live-always", "0570000123", "main", "0311113333", T0, None, agent="1001",
                  answered_at=T0 + 5))
    recorder = OnDemandRecorder(None, lambda: calls, store, state_dir / "recordings",
                                policies.get, log_event=None)
    app = web.Application(middlewares=[error_middleware, principal_from_headers,
                                       *([enforce_access] if gated else [])])
    app[RECORDING_STORE] = store
    app[ON_DEMAND] = recorder
    setup_recording_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, store, engine


@pytest.fixture
async def strict(state_dir: Path, database_url: str):
    server, store, engine = await serve(state_dir, database_url, agents_play_own=False)
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        yield http, store
    await server.close()
    await engine.dispose()


@pytest.fixture
async def gated(state_dir: Path, database_url: str):
    server, store, engine = await serve(state_dir, database_url, agents_play_own=False,
                                        gated=True)
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        yield http, store
    await server.close()
    await engine.dispose()


@pytest.fixture
async def own_allowed(state_dir: Path, database_url: str):
    server, store, engine = await serve(state_dir, database_url, agents_play_own=True)
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        yield http, store
    await server.close()
    await engine.dispose()


async def test_supervisor_and_admin_play_agents_and_viewers_are_refused_and_logged(strict):
    http, store = strict
    audio = f"/api/recordings/{MINE}/audio"
    for role, user in (("supervisor", "監督 太郎"), ("admin", "管理 花子")):
        async with http.get(audio, headers={**as_(role, user), "X-Madoguchi-User": "偽名"}) as r:
            assert r.status == 200 and (await r.read()).startswith(b"RIFF")
    for role, agent in (("agent", "1001"), ("viewer", None)):
        async with http.get(audio, headers=as_(role, f"{role}-user", agent)) as r:
            assert r.status == 403
            assert (await r.json())["error_id"] == "RECORDING_FORBIDDEN"
    async with http.get(audio, headers={**as_("agent", "agent-user", "1001"),
                                        "Range": "bytes=0-9"}) as r:
        assert r.status == 403
    async with http.post(f"/api/recordings/{MINE}/playback-url",
                         headers=as_("agent", "agent-user", "1001")) as r:
        assert r.status == 403  # no signed URL either
    async with http.get("/api/recordings", headers=as_("agent", "agent-user", "1001")) as r:
        assert r.status == 403

    log = await store.access_log(limit=50)
    granted = [(e["who"], e["action"]) for e in log if e["result"] == "granted"
               and e["action"] == "play"]
    # a session user is named by their session, not by the header
    assert sorted(granted) == sorted([("監督 太郎", "play"), ("管理 花子", "play")])
    refused = [(e["who"], e["action"], e["recording_uniqueid"]) for e in log
               if e["result"] == "refused"]
    assert sorted(refused) == sorted([
        ("agent-user", "play", MINE), ("viewer-user", "play", MINE),
        ("agent-user", "play", MINE), ("agent-user", "play", MINE),
        ("agent-user", "search", None)])
    assert all("RECORDING_FORBIDDEN" in e["detail"] for e in log if e["result"] == "refused")


async def test_access_log_and_certificate_for_admins_only(gated):
    http, _store = gated
    for path in ("/api/recordings/access-log",
                 "/api/recordings/certificate?from=2026-04-01&to=2026-04-30"):
        for role in ("supervisor", "agent", "viewer"):
            async with http.get(path, headers=as_(role, agent="1001")) as r:
                assert r.status == 403, (path, role)
                assert (await r.json())["error_id"] == "FORBIDDEN"
        for role in ("admin", "service"):
            async with http.get(path, headers=as_(role)) as r:
                assert r.status == 200, (path, role)
    async with http.get("/api/recordings/access-log?result=refused",
                        headers=as_("admin")) as r:
        assert await r.json() == []
    # city staff do not record calls
    async with http.post("/api/calls/live-od/recording", json={"action": "start"},
                         headers=as_("viewer")) as r:
        assert (r.status, (await r.json())["error_id"]) == (403, "FORBIDDEN")


async def test_agents_play_their_own_calls_when_the_setting_allows(own_allowed):
    http, store = own_allowed
    me = as_("agent", "担当 一郎", "1001")
    async with http.get(f"/api/recordings/{MINE}/audio", headers=me) as r:
        assert r.status == 200
    async with http.get(f"/api/recordings/{THEIRS}/audio", headers=me) as r:
        assert r.status == 403
    async with http.get("/api/recordings", headers=me) as r:
        page = await r.json()
    assert [i["uniqueid"] for i in page["items"]] == [MINE]  # narrowed to their calls
    async with http.get("/api/recordings?agent=1002", headers=me) as r:
        assert r.status == 403
    async with http.get("/api/recordings", headers=as_("supervisor")) as r:
        assert (await r.json())["total"] == 2
    log = await store.access_log(who="担当 一郎", limit=50)
    assert sorted((e["action"], e["recording_uniqueid"], e["result"]) for e in log) == sorted([
        ("play", MINE, "granted"), ("play", THEIRS, "refused"), ("search", None, "granted"),
        ("search", None, "refused")])


async def test_on_demand_control_rules(strict):
    http, _store = strict

    async def post(uid: str, headers: dict, body: object = None) -> tuple[int, dict]:
        async with http.post(f"/api/calls/{uid}/recording", json=body or {"action": "start"},
                             headers=headers) as r:
            return r.status, await r.json()

    status, body = await post("live-od", as_("agent", agent="1002"))
    assert (status, body["error_id"]) == (403, "NOT_YOUR_CALL")
    status, body = await post("live-always", as_("agent", agent="1001"))
    assert (status, body["error_id"]) == (409, "RECORDING_NOT_ON_DEMAND")
    assert body["details"] == {"line": "0570000123", "policy": "always"}
    status, body = await post("gone", as_("supervisor"))
    assert (status, body["error_id"]) == (404, "CALL_UNKNOWN")
    status, body = await post("live-od", as_("admin"), {"action": "pause"})
    assert (status, body["error_id"]) == (422, "INVALID_BODY")
    status, body = await post("live-od", as_("agent", agent="1001"), {"action": "stop"})
    assert (status, body["error_id"]) == (409, "RECORDING_NOT_STARTED")

