"""The recording store end to end: `acd up` on a real Asterisk, SIPp agents and callers.

After two answered calls, the API lists two sealed recordings (findable by a part of the
caller's number), a Range request gets 206 and exactly the bytes of the decrypted file, no
plain WAV is left in the recordings directory, the sealed files are not WAVs, the decrypted
audio is the call's (its length matches the talk time, and it is not silence), and every
playback is in the access log with who and from where.

Ports: the test ports (``MDG_PORT_BASE`` moves them).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import recordings
from acd.recordings import Keyring, open_sealed
from tests.conftest import TEST_PORTS, stack_env
from tests.support.recordings import seconds_and_rms
from tests.support.sipp import SippAgent, free_udp_port, register_agents, run_callers
from tests.support.stack import RunningStack

pytestmark = pytest.mark.integration

DID = "0570000123"
AGENTS = ("1001", "1002")
CALLS = 2
TALK_SECONDS = 5.0
USER = "監査 一郎"


def ports() -> dict[str, int]:
    return TEST_PORTS


def environment(state_dir: Path, database_url: str) -> dict[str, str]:
    return stack_env(state_dir, database_url)


async def sealed_rows(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(recordings))).mappings().all()]
    finally:
        await engine.dispose()


async def wait_for_recordings(stack: RunningStack, count: int, timeout: float = 30) -> dict:
    """GET /api/recordings until ``count`` recordings are sealed (or fail with the log)."""
    page: dict = {}
    for _ in range(int(timeout / 0.5)):
        page = await stack.api("GET", "/api/recordings?status=all")
        if page["total"] >= count and all(i["status"] == "sealed" for i in page["items"]):
            return page
        if any(i["status"] == "failed" for i in page["items"]):
            break
        await asyncio.sleep(0.5)
    raise AssertionError(f"recordings not sealed: {page}\n{stack.log_tail()}")


async def test_two_calls_are_sealed_listed_and_played_by_range(state_dir: Path,
                                                               database_url: str):
    p = ports()
    sipp_dir = state_dir / "sipp"
    async with RunningStack(environment(state_dir, database_url), state_dir,
                            p["gateway_port"]) as stack:
        passwords = await stack.add_agents(list(AGENTS))
        contact = {agent: free_udp_port() for agent in AGENTS}
        await register_agents(list(passwords.items()), p["sip_port"], contact, sipp_dir)
        agents = [SippAgent(a, contact[a], sipp_dir, talk_seconds=TALK_SECONDS) for a in AGENTS]
        for agent in agents:
            await agent.start()
        try:
            result = await run_callers(DID, p["sip_port"], CALLS, rate=1.0, workdir=sipp_dir,
                                       max_seconds=60)
        finally:
            for agent in agents:
                await agent.stop()
        assert (result.successful, result.failed) == (CALLS, 0), result.describe()

        page = await wait_for_recordings(stack, CALLS)
        assert page["total"] == CALLS
        items = page["items"]
        assert sorted(i["caller"] for i in items) == sorted(result.caller_numbers)
        assert items[0]["started_at"] >= items[1]["started_at"]  # newest first
        assert {i["agent"] for i in items} <= set(AGENTS)
        assert all(i["kind"] == "call" and i["line"] == DID for i in items)
        one = await stack.api("GET", f"/api/recordings?caller={result.caller_numbers[1][-5:]}")
        assert [i["caller"] for i in one["items"]] == [result.caller_numbers[1]]

        token = stack.secrets()["api"]
        headers = {"Authorization": f"Bearer {token}", "X-Madoguchi-User": USER}
        keyring = Keyring(state_dir / "keys")
        by_id = {r["uniqueid"]: r for r in await sealed_rows(database_url)}
        async with aiohttp.ClientSession(base_url=stack.gateway) as http:
            for item in items:
                row = by_id[item["uniqueid"]]
                sealed_file = Path(row["sealed_path"])
                assert sealed_file.is_relative_to(state_dir / "recordings")
                assert not sealed_file.read_bytes().startswith(b"RIFF")
                with open_sealed(sealed_file, keyring) as reader:
                    plain = reader.read_range(0)
                assert len(plain) == item["plain_size"]

                size = len(plain)
                start, end = 1001, min(size - 1, 71_000)  # crosses a 64 KiB chunk boundary
                assert end > 65_536
                async with http.get(item["audio_url"],
                                    headers={**headers, "Range": f"bytes={start}-{end}"}) as r:
                    assert r.status == 206
                    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
                    assert r.headers["Content-Type"] == "audio/wav"
                    assert await r.read() == plain[start:end + 1]
                async with http.get(item["audio_url"], headers=headers) as r:
                    assert r.status == 200 and await r.read() == plain
                async with http.get(item["audio_url"],
                                    headers={**headers, "Range": f"bytes={size}-"}) as r:
                    assert r.status == 416

                seconds, rms = seconds_and_rms(plain)
                assert abs(seconds - item["duration_seconds"]) < 0.01
                assert TALK_SECONDS - 1.5 <= seconds <= TALK_SECONDS + 1.5, seconds
                assert rms > 100, f"{item['uniqueid']} decrypts to silence (RMS {rms:.0f})"
                print(f"\n{item['uniqueid']}: {size} bytes, {seconds:.2f} s, RMS {rms:.0f}")

        log = await stack.api("GET", "/api/recordings/access-log?action=play")
        assert len(log) == 3 * CALLS
        assert {(e["who"], e["remote"]) for e in log} == {(USER, "127.0.0.1")}
        assert {e["recording_uniqueid"] for e in log} == {i["uniqueid"] for i in items}
        searches = await stack.api("GET", "/api/recordings/access-log?action=search")
        assert len(searches) >= 2 and {e["who"] for e in searches} == {"api"}
    assert stack.returncode == 0, stack.log_tail()

    # no plain recording is left behind; the sealed ones are there
    recordings_dir = state_dir / "recordings"
    assert list(recordings_dir.rglob("*.wav")) == []
    assert len(list(recordings_dir.rglob("*.wav.mdgs"))) == CALLS
    events = [e.get("event") for e in stack.log_events()]
    assert events.count("recording.sealed") == CALLS
    assert "recording.failed" not in events
