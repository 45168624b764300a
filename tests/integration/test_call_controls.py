"""Call controls on a real Asterisk: transfers through the carrier trunk (allowed and
refused), a three-way call with an interpreter, hold, and a supervisor's listen, whisper
and barge. SIPp plays the caller (carrier side), the operator, the supervisor's phone
and the external numbers (a UAS on the carrier's address, where the trunk sends calls).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Self

import pytest

from tests.conftest import FIXTURES, TEST_PORTS, stack_env
from tests.support.event_log import load_events
from tests.support.gateway import PASSWORD, Browser
from tests.support.recordings import recording_rows, sealed_audio, wav_seconds_of
from tests.support.sipp import (
    CARRIER_ADDRESS,
    SippAgent,
    free_udp_port,
    register_agents,
    run_callers,
)
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration
SIP = TEST_PORTS["sip_port"]
DID = "0570000123"  # recorded 'always'
TRANSFERS = """\
transfers:
  allow: ["0570*", "090*"]
  departments: {shimin: "0570999001"}
"""


def flows_with_transfers(state_dir: Path) -> Path:
    flows = state_dir / "flows"
    shutil.copytree(FIXTURES / "flows", flows)
    (flows / "transfers.yaml").write_text(TRANSFERS, encoding="utf-8")
    return flows


async def current_call(stack: RunningStack, agent: str) -> str | None:
    state = next(a for a in await stack.api("GET", "/api/agents") if a["id"] == agent)
    return state["call"] if state["status"] == "on_call" else None


async def answered(sipp: SippAgent, count: int) -> bool:
    return sipp.counts().answered >= count


class Scene:
    """A stack with operator 1001, supervisor phone 9001 and the external numbers."""

    def __init__(self, state_dir: Path, url: str) -> None:
        self.state_dir = state_dir
        self.sipp = state_dir / "sipp"
        self.external_port = free_udp_port(CARRIER_ADDRESS)
        env = stack_env(state_dir, url, MADOGUCHI_FLOWS_DIR=str(flows_with_transfers(state_dir)),
                        MADOGUCHI_CARRIER_PORT=str(self.external_port))
        self.stack = RunningStack(env, state_dir, TEST_PORTS["gateway_port"])
        self.phones: dict[str, SippAgent] = {}

    async def __aenter__(self) -> Self:
        await self.stack.__aenter__()
        try:
            passwords = await self.stack.add_agents(["1001"])
            passwords |= await self.stack.add_agents(["9001"], login=False)  # supervisor
            ports = {a: free_udp_port() for a in passwords}
            await register_agents(list(passwords.items()), SIP, ports, self.sipp)
            for agent in passwords:
                self.phones[agent] = SippAgent(agent, ports[agent], self.sipp, talk_seconds=90)
            self.phones["external"] = SippAgent("external", self.external_port, self.sipp,
                                                talk_seconds=90, address=CARRIER_ADDRESS)
            for phone in self.phones.values():
                await phone.start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        for phone in self.phones.values():
            await phone.stop(grace=1.0)
        await self.stack.__aexit__(*exc)

    def call(self, hangup_after: float) -> asyncio.Task:
        return asyncio.create_task(run_callers(
            DID, SIP, 1, 1.0, self.sipp / "caller", max_seconds=hangup_after + 25,
            hangup_after=hangup_after))


async def test_transfer_to_an_allowed_department_reaches_it_and_a_number_outside_is_refused(
        state_dir: Path, database_url: str):
    async with Scene(state_dir, database_url) as scene:
        stack, external = scene.stack, scene.phones["external"]
        caller = scene.call(hangup_after=20)
        uniqueid = await until(lambda: current_call(stack, "1001"), 20, "the call answered")

        refused = await stack.api("POST", f"/api/calls/{uniqueid}/transfer",
                                  {"target": "03-1234-5678", "mode": "blind"}, expect=403)
        assert refused["error_id"] == "TRANSFER_NOT_ALLOWED"
        assert "not an allowed transfer target" in refused["message"]
        assert external.counts().offered == 0

        done = await stack.api("POST", f"/api/calls/{uniqueid}/transfer",
                               {"target": "shimin", "mode": "blind"})
        assert (done["number"], done["mode"]) == ("0570999001", "blind")
        await until(lambda: answered(external, 1), 10, "the department answered")
        # the operator's leg ended; the operator is free again (wrap-up 0 on 'main')
        await until(lambda: _status(stack, "1001", "ready"), 10, "operator ready")
        result = await caller
        assert result.successful == 1, result.describe()
    assert scene.phones["1001"].counts().remote_hangups == 1
    assert external.counts().answered == 1

    events = await load_events(database_url)
    refusal = [e for e in events if e["kind"] == "CallControlRefused"]
    assert [(e["uniqueid"], e["payload"]["target"], e["payload"]["error_id"],
             e["payload"]["by"]) for e in refusal] == \
        [(uniqueid, "03-1234-5678", "TRANSFER_NOT_ALLOWED", "api")]
    control = [e for e in events if e["kind"] == "CallControl"]
    assert [(e["payload"]["action"], e["payload"]["target"], e["payload"]["number"],
             e["payload"]["by"]) for e in control] == \
        [("transfer", "shimin", "0570999001", "api")]
    ended = [e for e in events if e["kind"] == "AgentCallEnded"]
    assert ended and ended[0]["payload"]["reason"] == "transfer"
    # The recording goes on after the transfer: it holds the department's audio too.
    # (MixMonitor writes only while media flows; each SIPp party sends g711a.pcap's 7 s.)
    await until(lambda: _sealed(database_url, uniqueid), 20, "the recording sealed")
    seconds = wav_seconds_of(await sealed_audio(database_url, state_dir, uniqueid))
    operator_leg = ended[0]["occurred_at"] - next(
        e["occurred_at"] for e in events if e["kind"] == "AgentAnswered")
    assert seconds >= min(operator_leg, 7.0) + 5.0, (seconds, operator_leg)


async def _sealed(database_url: str, uniqueid: str) -> bool:
    row = (await recording_rows(database_url)).get(uniqueid)
    return row is not None and row["status"] == "sealed"


async def test_three_way_hold_and_listen_whisper_barge(state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    async with Scene(state_dir, url) as scene:
        stack, external = scene.stack, scene.phones["external"]
        caller = scene.call(hangup_after=45)
        uniqueid = await until(lambda: current_call(stack, "1001"), 20, "the call answered")
        path = f"/api/calls/{uniqueid}"

        before = await stack.api("GET", f"{path}/channels")
        assert before["agent"].startswith("PJSIP/1001-") and before["others"] == []

        # three-way: the interpreter joins the bridge of the caller and the operator
        refused = await stack.api("POST", f"{path}/conference", {"target": "0611112222"},
                                  expect=403)
        assert refused["error_id"] == "TRANSFER_NOT_ALLOWED"
        await stack.api("POST", f"{path}/conference", {"target": "090-1111-2222"})
        await until(lambda: answered(external, 1), 10, "the interpreter answered")
        three = await until(lambda: _with_others(stack, path, 1), 5, "three in the bridge")
        assert three["others"][0].startswith("PJSIP/carrier-")
        assert three["agent"] == before["agent"] and three["bridge"] == before["bridge"]
        dropped = await stack.api("DELETE", f"{path}/conference")
        assert dropped["dropped"] == three["others"]
        two = await until(lambda: _with_others(stack, path, 0), 5, "the third party gone")
        assert (two["caller"], two["agent"]) == (before["caller"], before["agent"])
        await until(lambda: _remote_hangups(external, 1), 5, "the interpreter hung up")
        await stack.api("DELETE", f"{path}/conference", expect=409)

        # hold: music whispered into the caller's channel; the call stays bridged
        await stack.api("POST", f"{path}/hold", {"on": True})
        held = await until(lambda: _on_hold(stack, path, before["caller"]), 5,
                           "the hold music whispering into the caller's channel")
        assert held["agent"] == before["agent"]
        assert (await stack.api("POST", f"{path}/hold", {"on": True}, expect=409)
                )["error_id"] == "HOLD_UNCHANGED"
        await stack.api("POST", f"{path}/hold", {"on": False})

        # the supervisor's phone is rung into ChanSpy on the operator's channel
        bad = await stack.api("POST", f"{path}/monitor",
                              {"mode": "listen", "extension": "1001"}, expect=422)
        assert bad["error_id"] == "EXTENSION_IS_AGENT"
        for count, mode in enumerate(("listen", "whisper", "barge"), start=1):
            await stack.api("POST", f"{path}/monitor", {"mode": mode, "extension": "9001"})
            await until(lambda n=count: answered(scene.phones["9001"], n), 10,
                        f"supervisor rung for {mode}")
        spying = await stack.api("GET", f"{path}/channels")
        spies = sorted(s["spying"] for s in spying["spies"] if s["channel"].startswith(
            "PJSIP/9001-"))
        agent = before["agent"]
        assert spies == sorted([f"{agent},qE", f"{agent},qwE", f"{agent},qBE"])
        assert (spying["caller"], spying["agent"]) == (before["caller"], before["agent"])
        result = await caller
        assert result.successful == 1, result.describe()

    events = await load_events(url)
    actions = [(e["payload"]["action"], e["payload"].get("mode") or e["payload"].get("target")
                or e["payload"].get("on"), e["payload"]["by"])
               for e in events if e["kind"] == "CallControl" and e["uniqueid"] == uniqueid]
    assert actions == [("conference", "090-1111-2222", "api"), ("conference_drop", None, "api"),
                       ("hold", True, "api"), ("hold", False, "api"),
                       ("monitor", "listen", "api"), ("monitor", "whisper", "api"),
                       ("monitor", "barge", "api")]
    refused = [e["payload"]["error_id"] for e in events if e["kind"] == "CallControlRefused"]
    assert sorted(refused) == sorted(["TRANSFER_NOT_ALLOWED", "NO_THIRD_PARTY",
                                      "HOLD_UNCHANGED", "EXTENSION_IS_AGENT"])


async def test_attended_transfer_completes_and_a_supervisor_forces_an_agent_away_and_out(
        state_dir: Path):
    url = f"sqlite+aiosqlite:///{state_dir}/db.sqlite"
    async with Scene(state_dir, url) as scene:
        stack, external, operator = scene.stack, scene.phones["external"], scene.phones["1001"]
        caller = scene.call(hangup_after=30)
        uniqueid = await until(lambda: current_call(stack, "1001"), 20, "the call answered")
        path = f"/api/calls/{uniqueid}/transfer"
        early = await stack.api("POST", f"{path}/complete", expect=409)
        assert early["error_id"] == "NO_ATTENDED_TRANSFER"

        # attended: the caller waits on hold while the operator talks with the target
        done = await stack.api("POST", path, {"target": "090-1234-5678", "mode": "attended"})
        assert (done["number"], done["mode"]) == ("09012345678", "attended")
        await until(lambda: answered(external, 1), 15, "the target answered")
        assert operator.counts().remote_hangups == 0  # still consulting
        completed = await until(lambda: _complete(stack, path), 10, "the transfer completed")
        assert completed["target_channels"], completed
        # the controller hung up the operator's leg; caller and target stay connected
        await until(lambda: _remote_hangups(operator, 1), 10, "the operator's leg ended")
        await until(lambda: _status(stack, "1001", "ready"), 10, "operator ready")
        assert external.counts().remote_hangups == 0
        result = await caller  # the caller hangs up at 30 s: the call lived until then
        assert result.successful == 1, result.describe()
        await until(lambda: _remote_hangups(external, 1), 10, "the caller's BYE at the target")
        assert external.counts().answered == 1 and operator.counts().answered == 1

        # a supervisor forces the operator away, then logs them out
        await _add_supervisor(stack, "suzuki")
        async with Browser(stack.gateway) as supervisor:
            signed = await supervisor.sign_in("suzuki")
            assert signed.status == 200 and supervisor.csrf, signed.body_text[:200]
            # Asterisk's own queue_log says what app_queue did to the member
            queue_log = state_dir / "asterisk" / "log" / "queue_log"
            seen = len(member_lines(queue_log))
            status, away = await supervisor.request(
                "POST", "/api/agents/1001/force", json={"action": "away", "reason": "meeting"})
            assert status == 200, away
            assert (away["status"], away["reason"]) == ("away", "meeting")
            paused = await until(lambda: _member_lines_after(queue_log, seen), 5, "the pause")
            assert paused == [("main", "PAUSE", "meeting")], paused
            status, out = await supervisor.request(
                "POST", "/api/agents/1001/force", json={"action": "logout",
                                                        "reason": "shift over"})
            assert status == 200 and out["status"] == "logged_out", out
            removed = await until(lambda: _member_lines_after(queue_log, seen + 1), 5,
                                  "the removal")
            assert removed == [("main", "REMOVEMEMBER", "")], removed
            status, bare = await supervisor.request(
                "POST", "/api/agents/1001/force", json={"action": "away"})
            assert (status, bare["error_id"]) == (422, "REASON_REQUIRED"), bare
            status, again = await supervisor.request(
                "POST", "/api/agents/1001/force", json={"action": "away", "reason": "break"})
            assert status == 409, again
            await asyncio.sleep(0.5)
            assert len(member_lines(queue_log)) == seen + 2  # nothing more in Asterisk

    events = await load_events(url)
    control = [(e["payload"]["action"], e["payload"].get("mode"), e["payload"]["by"])
               for e in events if e["kind"] == "CallControl" and e["uniqueid"] == uniqueid]
    assert control == [("transfer", "attended", "api"), ("transfer_complete", None, "api")]
    refused = [e["payload"]["error_id"] for e in events if e["kind"] == "CallControlRefused"]
    assert refused[0] == "NO_ATTENDED_TRANSFER"
    assert set(refused[1:]) <= {"TRANSFER_NOT_ANSWERED"}, refused
    ended = [e for e in events if e["kind"] == "AgentCallEnded" and e["uniqueid"] == uniqueid]
    assert [e["payload"]["reason"] for e in ended] == ["transfer"]
    forced = [(e["payload"]["agent"], e["payload"]["action"], e["payload"]["reason"],
               e["payload"]["by"], e["payload"]["role"])
              for e in events if e["kind"] == "AgentForced"]
    assert forced == [("1001", "away", "meeting", "suzuki", "supervisor"),
                      ("1001", "logout", "shift over", "suzuki", "supervisor")]
    assert [(e["payload"]["action"], e["payload"]["reason"], e["payload"]["by"])
            for e in events if e["kind"] == "AgentForceRefused"] == \
        [("away", "break", "suzuki")]
    # the recording goes on through the attended transfer (the target's audio too)
    await until(lambda: _sealed(url, uniqueid), 20, "the recording sealed")
    seconds = wav_seconds_of(await sealed_audio(url, state_dir, uniqueid))
    operator_leg = ended[0]["occurred_at"] - next(
        e["occurred_at"] for e in events
        if e["kind"] == "AgentAnswered" and e["uniqueid"] == uniqueid)
    assert seconds >= min(operator_leg, 7.0) + 5.0, (seconds, operator_leg)


def member_lines(queue_log: Path, agent: str = "1001") -> list[tuple[str, str, str]]:
    """(queue, event, data) of the queue_log lines about the agent's membership."""
    found = []
    for line in queue_log.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split("|")
        if len(fields) >= 5 and fields[4] in MEMBER_EVENTS and agent in fields[3]:
            found.append((fields[2], fields[4], fields[5] if len(fields) > 5 else ""))
    return found


MEMBER_EVENTS = {"PAUSE", "UNPAUSE", "ADDMEMBER", "REMOVEMEMBER"}


async def _member_lines_after(queue_log: Path, seen: int) -> list[tuple[str, str, str]]:
    return member_lines(queue_log)[seen:]


async def _complete(stack: RunningStack, path: str) -> dict | None:
    """Complete the attended transfer once the target has answered (409 before)."""
    found = await stack.api("POST", f"{path}/complete", expect=None)
    if found.get("error_id") == "TRANSFER_NOT_ANSWERED":
        return None
    assert "error_id" not in found, found
    return found


async def _add_supervisor(stack: RunningStack, login: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "acd.cli.main", "users", "add", login, "--name", "鈴木",
        "--role", "supervisor", "--extension", "9001", "--password-stdin",
        env=stack.env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await proc.communicate(f"{PASSWORD}\n".encode())
    assert proc.returncode == 0, output.decode(errors="replace")


async def _status(stack: RunningStack, agent: str, status: str) -> bool:
    state = next(a for a in await stack.api("GET", "/api/agents") if a["id"] == agent)
    return state["status"] == status


async def _with_others(stack: RunningStack, path: str, count: int) -> dict | None:
    """The call's channels once ``count`` others are in its bridge, each the far party's
    own channel (a Local channel that brought one in is optimized away a moment later)."""
    found = await stack.api("GET", f"{path}/channels")
    settled = not any(other.startswith("Local/") for other in found["others"])
    return found if len(found["others"]) == count and settled else None


async def _on_hold(stack: RunningStack, path: str, caller: str) -> dict | None:
    """The call's channels once the hold music (originated asynchronously, so a moment
    after the answer to the hold request) whispers into the caller's channel."""
    found = await stack.api("GET", f"{path}/channels")
    return found if any(s["channel"].startswith("Local/s@mdg-hold-music-")
                        and s["spying"] == f"{caller},qwE" for s in found["spies"]) else None


async def _remote_hangups(sipp: SippAgent, count: int) -> bool:
    return sipp.counts().remote_hangups >= count
