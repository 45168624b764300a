"""The recordings HTTP API in a real aiohttp server: search, ranged playback as a browser
asks for it, 416, signed playback URLs, the access log, the certificate."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acd.adapters.db.engine import make_engine
from acd.adapters.db.migrate import upgrade
from acd.domain.clock import JST
from acd.recordings import Keyring, parse_csv
from acd.recordings.store import RecordingStore
from agent_gateway.auth.middleware import token_only
from agent_gateway.http import error_middleware
from agent_gateway.keys import API_TOKEN, RECORDING_STORE
from agent_gateway.routes.recordings import (
    RangeNotSatisfiable,
    parse_range,
    setup_recording_routes,
)
from tests.support.clock import Clock
from tests.support.recordings import T0, call, write_wav

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Madoguchi-User": "佐藤"}


@pytest.mark.parametrize("header,size,expected", [
    (None, 100, None),
    ("bytes=0-", 100, (0, 100)),
    ("bytes=0-0", 100, (0, 1)),
    ("bytes=10-19", 100, (10, 20)),
    ("bytes=90-200", 100, (90, 100)),
    ("bytes=-10", 100, (90, 100)),
    ("bytes=-500", 100, (0, 100)),
    ("bytes=99-", 100, (99, 100)),
    (" bytes = 5-6 ", 100, (5, 7)),  # blanks around the parts are tolerated
    ("items=0-5", 100, None),
    ("bytes=0-5,10-20", 100, None),  # several ranges: the whole body
])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header,size", [
    ("bytes=100-", 100), ("bytes=150-160", 100), ("bytes=-0", 100), ("bytes=5-4", 100),
    ("bytes=-", 100), ("bytes=a-b", 100), ("bytes=0-", 0), ("bytes=-5", 0),
])
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.fixture
async def served(state_dir: Path, database_url: str):
    await upgrade(database_url)
    engine = make_engine(database_url)
    store = RecordingStore(engine, Keyring(state_dir / "keys"), clock=Clock(T0 + 3600),
                           settle_seconds=0.01)
    plain = write_wav(state_dir / "recordings" / "a.wav", 20.0)  # 320 kB: several chunks
    record = call("1743467400.7", "0312345678", state_dir / "recordings" / "a.wav")
    await store.seal_after_call(record)
    app = web.Application(middlewares=[error_middleware, token_only])
    app[API_TOKEN] = TOKEN
    app[RECORDING_STORE] = store
    setup_recording_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url("/"))) as http:
        yield http, store, record, plain
    await server.close()
    await engine.dispose()


async def test_search_and_ranged_playback(served):
    http, store, record, plain = served
    async with http.get("/api/recordings", params={"caller": "4567"}) as resp:
        assert resp.status == 401  # the token is required
    async with http.get("/api/recordings", params={"caller": "4567"}, headers=AUTH) as resp:
        assert resp.status == 200
        page = await resp.json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["uniqueid"] == record.uniqueid and "sealed_path" not in item
    audio = item["audio_url"]

    async with http.get(audio, headers=AUTH) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav"
        assert resp.headers["Accept-Ranges"] == "bytes"
        assert await resp.read() == plain
    # a browser's <audio>: first bytes=0-, then seeks
    for asked, start, end in (("bytes=0-", 0, len(plain)), ("bytes=70000-140000", 70000, 140001),
                              ("bytes=-1000", len(plain) - 1000, len(plain)),
                              ("bytes=65535-65536", 65535, 65537)):
        async with http.get(audio, headers={**AUTH, "Range": asked}) as resp:
            assert resp.status == 206, asked
            assert resp.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(plain)}"
            assert int(resp.headers["Content-Length"]) == end - start
            assert await resp.read() == plain[start:end]
    async with http.get(audio, headers={**AUTH, "Range": f"bytes={len(plain)}-"}) as resp:
        assert resp.status == 416
        assert resp.headers["Content-Range"] == f"bytes */{len(plain)}"
    async with http.get(audio, headers={**AUTH, "Range": "bytes=10-20",
                                        "If-Range": '"stale"'}) as resp:
        assert resp.status == 200 and len(await resp.read()) == len(plain)
    async with http.head(audio, headers=AUTH) as resp:
        assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(plain)
    async with http.get("/api/recordings/nope/audio", headers=AUTH) as resp:
        assert resp.status == 404 and (await resp.json())["error_id"] == "RECORDING_UNKNOWN"

    # a signed URL plays without the token, and only as itself
    async with http.post(f"/api/recordings/{record.uniqueid}/playback-url",
                         headers=AUTH) as resp:
        signed = (await resp.json())["url"]
    async with http.get(signed, headers={"Range": "bytes=100-199"}) as resp:
        assert resp.status == 206 and await resp.read() == plain[100:200]
    async with http.get(signed.replace("who=", "who=x")) as resp:
        assert resp.status == 403
    async with http.get(f"/recordings/{record.uniqueid}/audio") as resp:
        assert resp.status == 403

    async with http.get("/api/recordings/access-log", params={"action": "play"},
                        headers=AUTH) as resp:
        plays = await resp.json()
    assert len(plays) == 8  # every GET of audio, the 416 included (opened, then refused)
    assert {p["who"] for p in plays} == {"佐藤"}
    assert {p["remote"] for p in plays} == {"127.0.0.1"}
    assert plays[0]["detail"] == "Range: bytes=100-199"

    # the certificate after a purge
    await store.purge_expired(T0 + 100 * 86400, "admin")
    async with http.get(audio, headers=AUTH) as resp:
        assert resp.status == 410 and (await resp.json())["error_id"] == "RECORDING_ERASED"
    store.clock.now = T0 + 101 * 86400
    day = datetime.fromtimestamp(T0 + 101 * 86400, JST).date().isoformat()
    async with http.get("/api/recordings/certificate", headers=AUTH,
                        params={"from": "2026-01-01", "to": day, "format": "csv"}) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
        parsed = parse_csv(await resp.read())
    assert [i["recording_id"] for i in parsed.items] == [record.uniqueid]
    async with http.get("/api/recordings", params={"min_seconds": "x"}, headers=AUTH) as resp:
        assert resp.status == 422 and (await resp.json())["error_id"] == "INVALID_QUERY"
