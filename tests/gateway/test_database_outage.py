"""The consoles while the database is away (a private PostgreSQL stopped as a crash
would, then started again): signed-in operators keep working from their sessions, what
they saw is in the access log once the database is back, a new sign-in is told to wait
(503, never a 500), and nothing else breaks."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from acd.adapters.db.schema import access_log
from tests.support.gateway import Gateway
from tests.support.postgres import PrivatePostgres, fresh_database
from tests.support.waiting import until


async def test_signed_in_consoles_go_on_while_the_database_is_away(state_dir: Path):
    server = PrivatePostgres(crash_safe=True)
    database = await fresh_database(await server.create())
    async with Gateway(database.url, state_dir) as gw:
        await gw.add_user("yamada", "agent", "1001")
        await gw.add_user("suzuki", "supervisor", extension="2001")
        async with gw.browser() as agent, gw.browser() as supervisor, \
                gw.browser() as latecomer:
            assert (await agent.sign_in("yamada")).url.path == "/agent"
            assert (await supervisor.sign_in("suzuki")).url.path == "/supervisor"
            assert (await agent.request("POST", "/api/agents/1001/login"))[0] == 200
            await gw.call_to("1001", "1764720000.1", "0312345678", time.time())

            await server.stop()
            started = time.monotonic()
            status, me = await agent.request("GET", "/api/console/me")
            assert status == 200, me
            assert me["pending"]["caller"] == "0312345678", me  # the screen-pop, from memory
            await gw.end_call("1001", "1764720000.1", time.time())
            for path in ("/api/agents/1001/away", "/api/agents/1001/ready"):
                status, body = await agent.request("POST", path, json={"reason": "break"}
                                                   if path.endswith("away") else {})
                assert status == 200, (path, body)
            status, agents = await supervisor.request("GET", "/api/agents")
            assert status == 200 and agents
            took = time.monotonic() - started
            refused = await latecomer.sign_in("yamada")
            assert refused.status == 503, refused.body_text[:300]
            assert "データベース" in refused.body_text
            status, body = await supervisor.request("GET", "/api/escalations")  # from the DB
            assert (status, body["error_id"]) == (503, "DATABASE_UNAVAILABLE"), body

            await server.start()
            assert await gw.db.flush(timeout=30)
            entries = await until(lambda: _screen_pops(gw), 30, "the access log written")
            assert [e["user_id"] for e in entries] == ["yamada"], entries
            assert (await latecomer.sign_in("yamada")).url.path == "/agent"
            status, _ = await agent.request("GET", "/api/console/me")
            assert status == 200
    print(f"\ndatabase away: the signed-in consoles answered 5 requests in {took:.2f} s; "
          f"a new sign-in heard 503; {len(entries)} screen-pop access logged afterwards")


async def _screen_pops(gw: Gateway) -> list[dict] | None:
    async with gw.engine.connect() as conn:
        found = [dict(r) for r in (await conn.execute(
            select(access_log).where(access_log.c.subject == "screen_pop"))).mappings()]
    return found or None
