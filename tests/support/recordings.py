"""Reading what the recording store sealed, for integration tests."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
from sqlalchemy import select

from acd.adapters.db.engine import make_engine
from acd.adapters.db.schema import recordings
from acd.recordings import Keyring, open_sealed


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
