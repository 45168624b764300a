"""The event line's HTTP API on a real database with a stand-in for Asterisk's AMI: each
change is stored, then pushed to the dialplan's globals (Setvar, count last); mistakes are
answered with {error_id, message, details}; Asterisk unreachable -> stored, pushed: false,
pushed again when the controller reconnects."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.adapters.ami.client import AmiError
from acd.adapters.db.engine import make_engine
from acd.adapters.db.event_items import EventStore
from acd.adapters.db.migrate import upgrade
from acd.domain.clock import tokyo_today
from acd.ivr.loader import load_site
from acd.services.event_line import EventLines
from agent_gateway.auth.middleware import token_only
from agent_gateway.http import error_middleware
from agent_gateway.keys import API_TOKEN, EVENT_LINES
from agent_gateway.routes.events import setup_event_routes
from tests.support.flows import flows, site_text

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeAmi:
    def __init__(self) -> None:
        self.connected = True
        self.actions: list[dict] = []

    async def action(self, action: dict, as_list: bool = False):
        if not self.connected:
            raise AmiError(f"AMI not connected ({action.get('Action')})")
        self.actions.append(action)
        return {"Response": "Success"}

    def globals(self) -> dict[str, str]:
        return {a["Variable"]: a["Value"] for a in self.actions
                if a["Action"] == "Setvar" and "Channel" not in a}


@pytest.fixture
async def served(tmp_path: Path, state_dir: Path, database_url: str):
    await upgrade(database_url)
    engine = make_engine(database_url)
    site = load_site(flows(tmp_path, site_text()))
    prompts = {name: {"ja": f"/sounds/{name}"} for name in site.prompts}
    ami = FakeAmi()
    lines = EventLines(EventStore(engine), ami, lambda: (site, prompts), state_dir / "sounds")
    app = web.Application(middlewares=[error_middleware, token_only])
    app[API_TOKEN] = TOKEN
    app[EVENT_LINES] = lines
    setup_event_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        yield http, ami, lines
    await server.close()
    await engine.dispose()


async def call(http, method: str, path: str, body=None, status: int = 200):
    async with http.request(method, path, json=body, headers=AUTH) as resp:
        data = await resp.json()
        assert resp.status == status, data
        return data


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_create_change_delete_are_pushed_to_the_dialplan(served):
    http, ami, _ = served
    family = f"EV_city-events_{tokyo_today():%Y%m%d}_"
    async with http.get("/api/events/city-events") as resp:
        assert resp.status == 401
    first = await call(http, "POST", "/api/events/city-events",
                       {"title_prompt": "intro", "status": "held", "by": "kanko"}, 201)
    second = await call(http, "POST", "/api/events/city-events",
                        {"title_prompt": "st", "status": "full", "by": "kanko"}, 201)
    assert (first["position"], second["position"], second["pushed"]) == (1, 2, True)
    assert ami.actions[-1] == {"Action": "Setvar", "Variable": f"{family}count", "Value": "2"}
    db = ami.globals()
    assert db[f"{family}1_title"] == "/sounds/intro"
    assert db[f"{family}2_status"] == "/sounds/st"  # every status says 'st' here
    assert (db[f"{family}2_id"], db[f"{family}2_state"]) == (str(second["id"]), "full")

    changed = await call(http, "PATCH", f"/api/events/city-events/{first['id']}",
                         {"status": "cancelled", "by": "shimin-ka"})
    assert (changed["status"], changed["updated_by"], changed["pushed"]) == \
        ("cancelled", "shimin-ka", True)
    assert ami.globals()[f"{family}1_state"] == "cancelled"

    deleted = await call(http, "DELETE", f"/api/events/city-events/{first['id']}?by=kanko")
    assert deleted["deleted"] is True
    db = ami.globals()
    assert db[f"{family}count"] == "1" and db[f"{family}1_id"] == str(second["id"])
    listed = await call(http, "GET", "/api/events/city-events")
    assert [i["id"] for i in listed["items"]] == [second["id"]]
    again = await call(http, "DELETE", f"/api/events/city-events/{first['id']}?by=kanko",
                       status=404)
    assert again["error_id"] == "EVENT_UNKNOWN"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_mistakes_are_answered_clearly(served):
    http, _, _ = served
    no_title = await call(http, "POST", "/api/events/city-events",
                          {"status": "held", "by": "k"}, 422)
    assert no_title["error_id"] == "INVALID_BODY"
    assert "exactly one of 'title_prompt'" in no_title["details"][0]["problem"]
    status = await call(http, "POST", "/api/events/city-events",
                        {"title_prompt": "st", "status": "exploded", "by": "k"}, 422)
    assert status["error_id"] == "STATUS_UNKNOWN" and "held" in status["details"]["known"]
    prompt = await call(http, "POST", "/api/events/city-events",
                        {"title_prompt": "nosuch", "status": "held", "by": "k"}, 422)
    assert prompt["error_id"] == "PROMPT_UNKNOWN"
    events = await call(http, "POST", "/api/events/nosuch",
                        {"title_prompt": "st", "status": "held", "by": "k"}, 404)
    assert (events["error_id"], events["details"]) == ("EVENTS_UNKNOWN",
                                                       {"known": ["city-events"]})
    bad_date = await call(http, "GET", "/api/events/city-events?date=2026-02-30", status=422)
    assert bad_date["error_id"] == "INVALID_DATE"
    nothing = await call(http, "PATCH", "/api/events/city-events/1", {"by": "k"}, 422)
    assert "nothing to change" in nothing["details"][0]["problem"]
    missing = await call(http, "PATCH", "/api/events/city-events/999",
                         {"status": "held", "by": "k"}, 404)
    assert missing["error_id"] == "EVENT_UNKNOWN"
    statuses = await call(http, "GET", "/api/event-statuses")
    assert len(statuses) == 10


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_asterisk_unreachable_keeps_the_change_and_the_reconnect_pushes_it(served):
    http, ami, lines = served
    ami.connected = False
    created = await call(http, "POST", "/api/events/city-events",
                         {"title_prompt": "st", "status": "held", "by": "k",
                          "date": tokyo_today().isoformat()}, 201)
    assert created["pushed"] is False and ami.actions == []
    family = f"EV_city-events_{tokyo_today():%Y%m%d}_"
    runner = asyncio.create_task(lines.run())
    try:
        await asyncio.sleep(0.1)
        ami.connected = True
        for _ in range(100):  # today's, then tomorrow's count
            if sum(key.endswith("_count") for key in ami.globals()) == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        runner.cancel()
    assert ami.globals()[f"{family}count"] == "1"  # today, and tomorrow pushed ahead
    assert any(key.endswith("_count") and not key.startswith(family) for key in ami.globals())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_title_text_is_synthesized_on_save(served, state_dir: Path):
    http, ami, _ = served
    created = await call(http, "POST", "/api/events/city-events",
                         {"title_text": "花火大会", "status": "held", "by": "k"}, 201)
    assert created["title_text"] == "花火大会"
    title = next(v for k, v in ami.globals().items() if k.endswith("_1_title"))
    assert title.startswith(str(state_dir / "sounds" / "tts-ja-"))
    assert Path(title + ".wav").stat().st_size > 1000


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_title_whose_audio_was_cleared_is_synthesized_again_on_push(served):
    http, ami, lines = served
    await call(http, "POST", "/api/events/city-events",
               {"title_text": "古本市", "status": "held", "by": "k"}, 201)
    title = next(v for k, v in ami.globals().items() if k.endswith("_1_title"))
    Path(title + ".wav").unlink()
    assert await lines.push_days()
    assert Path(title + ".wav").exists()
