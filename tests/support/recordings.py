"""Recordings for tests: WAVs like MixMonitor's, the call records that made them, the
`acd recordings` CLI in-process, and reading back what the recording store sealed."""

from __future__ import annotations

import argparse
import io
import math
import struct
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import recordings
from acd.cli.recordings import add_recording_commands
from acd.domain.calls import CallRecord
from acd.domain.clock import JST
from acd.recordings import Keyring, open_sealed

T0 = datetime(2026, 4, 1, 9, 30, tzinfo=JST).timestamp()  # a Wednesday morning in JST


def write_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV like MixMonitor's: a tone, so no two files are alike."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * rate)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                      for i in range(n))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path.read_bytes()


def call(uid: str, caller: str, recording: Path | None, *, at: float = T0, talk: float = 3.0,
         agent: str = "1001", voicemail: Path | None = None) -> CallRecord:
    answered = at + 10 if recording else None
    return CallRecord(
        uniqueid=uid, line="0570000123", queue="main", caller=caller,
        agent=agent if recording else None, entered_at=at, queue_joined_at=at + 2,
        answered_at=answered, ended_at=(answered or at + 20) + talk,
        wait_seconds=8.0 if recording else None, talk_seconds=talk if recording else None,
        outcome="answered" if recording else "voicemail", agents_rung=1,
        recording_file=str(recording) if recording else None, close_reason="hangup",
        voicemail_file=str(voicemail) if voicemail else None)


def run(argv: list[str]) -> int:
    """`acd recordings ...` with ``argv``, in this process; its exit status."""
    parser = argparse.ArgumentParser(prog="acd")
    add_recording_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


async def recording_rows(url: str) -> dict[str, dict]:
    """Every row of the ``recordings`` table, by recording uniqueid."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(recordings))).mappings().all()
    finally:
        await engine.dispose()
    return {r["uniqueid"]: dict(r) for r in rows}


async def sealed_audio(url: str, state_dir: Path, uniqueid: str) -> bytes:
    """The decrypted content of a sealed recording (``<call uniqueid>`` for the call's
    recording, ``<call uniqueid>-vm`` for its voicemail message), with the keyring of an
    `acd up` whose state directory is ``state_dir``."""
    row = (await recording_rows(url)).get(uniqueid)
    assert row is not None, f"no recording row {uniqueid}"
    assert row["status"] == "sealed", row
    with open_sealed(row["sealed_path"], Keyring(state_dir / "keys")) as reader:
        return reader.read_range(0)


def wav_seconds_of(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return round(wav.getnframes() / wav.getframerate(), 3)


def seconds_and_rms(data: bytes) -> tuple[float, float]:
    """A WAV's length in seconds and the RMS of its 16-bit samples (0 for no samples)."""
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64)
    return seconds, float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0
