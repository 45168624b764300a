"""An operator on another host: a desk in a network namespace made by the test runs
baresip, a real softphone, registered over TLS (trusting the stack's local CA) with
mandatory SRTP. A carrier call to the line is answered there; audio flows both ways and
is encrypted on the desk's wire (every RTP packet carries SRTP's authentication tag, and
its payload is as random as ciphertext, not G.711 audio); the recording holds the
conversation; and Asterisk made no lookup of its own address (the media address is
named)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import call_records
from tests.conftest import TEST_PORTS, stack_env
from tests.support.desk import Baresip, WireCapture, byte_entropy, desk_host
from tests.support.recordings import sealed_audio, seconds_and_rms, write_wav
from tests.support.sipp import CallerResult, free_udp_port, run_callers
from tests.support.stack import RunningStack
from tests.support.waiting import until

pytestmark = pytest.mark.integration

DID = "0570000123"
TALK = 8.0
SRTP_TAG = 10  # AES_CM_128_HMAC_SHA1_80
PCMA_10MS = 80
PT_PCMA = 8


async def records(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(select(call_records))).mappings()]
    finally:
        await engine.dispose()


async def call_the_phone(phone: Baresip, registered: str, state_dir: Path
                         ) -> tuple[CallerResult, float]:
    """One carrier call to the line, once the softphone says ``registered``; the caller's
    result and how long the call took from the INVITE to the caller's hang-up."""
    await until(lambda: registered in phone.output(), 15, f"the softphone's {registered}")
    loop = asyncio.get_running_loop()
    placed = loop.time()
    result = await run_callers(DID, TEST_PORTS["sip_port"], 1, 1.0, state_dir / "sipp",
                               max_seconds=60, hangup_after=TALK)
    return result, loop.time() - placed


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_agent_on_another_host_answers_over_tls_with_srtp(
        state_dir: Path, database_url: str):
    tone = state_dir / "tone.wav"
    write_wav(tone, 30, freq=700)
    with desk_host() as desk:
        env = stack_env(state_dir, database_url, MADOGUCHI_SIP_ADDRESS="0.0.0.0",
                        MADOGUCHI_MEDIA_ADDRESS=desk.host_address,
                        MADOGUCHI_AGENT_NETWORKS=f'["{desk.host_address}/24"]',
                        MADOGUCHI_TLS_NAMES=f'["{desk.host_address}"]')
        async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
            health = await stack.health()
            assert health is not None
            password = (await stack.add_agents(["1001"]))["1001"]
            phone = Baresip(state_dir, "1001", password, desk.host_address,
                            TEST_PORTS["sip_tls_port"], tone, desk=desk,
                            ca_file=state_dir / "tls" / "ca.pem")
            wire = WireCapture(desk, state_dir / "wire.bin")
            await wire.start()
            await phone.start()
            try:
                result, call_seconds = await call_the_phone(phone, "{0/TLS/v4} 200 OK",
                                                            state_dir)
            finally:
                payloads = await wire.stop()
                await phone.stop()
            assert (result.successful, result.failed) == (1, 0), result.describe()
            assert "Call established" in phone.output(), phone.output()[-2000:]
            record = await until(lambda: records(database_url), 15, "the call record")
        lookups = (state_dir / "asterisk" / "log" / "messages.log").read_text()
    assert stack.returncode == 0, stack.log_tail()

    (call,) = record
    assert (call["agent"], call["outcome"]) == ("1001", "answered")
    to_desk = [p for p in payloads if p[1] & 0x7F == PT_PCMA]  # RTP, not (S)RTCP
    assert len(to_desk) > 100, f"{len(to_desk)} PCMA packets on the desk's wire"
    sizes = {len(p) for p in to_desk}
    # every packet is header + whole 10-ms frames of A-law + SRTP's authentication tag
    assert all((size - 12 - SRTP_TAG) % PCMA_10MS == 0 for size in sizes), sizes
    entropy = byte_entropy(b"".join(p[12:-SRTP_TAG] for p in to_desk))
    assert entropy > 7.8, f"payload entropy {entropy:.2f} bits/byte: not encrypted"
    seconds, rms = seconds_and_rms(await sealed_audio(database_url, state_dir,
                                                      call["uniqueid"]))
    assert abs(seconds - call["talk_seconds"]) <= 1.0
    assert rms > 100  # the conversation, not silence
    assert "Unable to lookup" not in lookups
    print(f"\nTLS + SRTP agent on {desk.desk_address}: answered after "
          f"{call['wait_seconds']:.3f} s in the queue, call {call_seconds:.1f} s; "
          f"{len(to_desk)} SRTP packets of {sizes} bytes, payload entropy "
          f"{entropy:.2f} bits/byte; recording {seconds:.1f} s, RMS {rms:.0f}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_same_softphone_over_udp_on_loopback_for_comparison(
        state_dir: Path, database_url: str):
    """The set-up time of the TLS call above against plain UDP and RTP, same softphone."""
    tone = state_dir / "tone.wav"
    write_wav(tone, 30, freq=700)
    env = stack_env(state_dir, database_url)
    async with RunningStack(env, state_dir, TEST_PORTS["gateway_port"]) as stack:
        password = (await stack.add_agents(["1001"]))["1001"]
        phone = Baresip(state_dir, "1001", password, "127.0.0.1", TEST_PORTS["sip_port"],
                        tone, listen=f"127.0.0.1:{free_udp_port('127.0.0.1')}")
        await phone.start()
        try:
            result, call_seconds = await call_the_phone(phone, "{0/UDP/v4} 200 OK",
                                                        state_dir)
        finally:
            await phone.stop()
        assert (result.successful, result.failed) == (1, 0), result.describe()
        (call,) = await until(lambda: records(database_url), 15, "the call record")
    assert stack.returncode == 0, stack.log_tail()
    assert (call["agent"], call["outcome"]) == ("1001", "answered")
    print(f"\nUDP + RTP agent on loopback: answered after {call['wait_seconds']:.3f} s in "
          f"the queue, call {call_seconds:.1f} s")
