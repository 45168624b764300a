"""Turn the prompts of the flows into Asterisk-ready audio (WAV, 8 kHz, 16-bit mono).

Japanese text is synthesized offline with Open JTalk (pyopenjtalk-plus), English text
with espeak-ng; a file the admin supplies is converted with sox. Results are cached by a
hash of their source, so an unchanged prompt is never synthesized twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from acd.ivr.models import Prompt, Site


class PromptError(RuntimeError):
    pass


def build_prompts(site: Site, flows_dir: Path, sounds_dir: Path) -> dict[str, dict[str, str]]:
    """Audio for every prompt and language: name -> language -> path without extension
    (as Asterisk's Playback wants it)."""
    sounds_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, dict[str, str]] = {}
    for name, prompt in site.prompts.items():
        result[name] = {lang: str(_audio_for(prompt, lang, flows_dir, sounds_dir))
                        for lang in sorted(set(prompt.text) | set(prompt.file))}
    return result


def audio_in(by_language: dict[str, str], language: str) -> str:
    """A prompt's audio in the caller's language, else in Japanese, else in any."""
    return by_language.get(language) or by_language.get("ja") or next(iter(by_language.values()))


def text_audio(text: str, lang: str, sounds_dir: Path) -> Path:
    """Audio for a text said at run time (an event's title): synthesized once, cached by
    the hash of the text like the prompts of the flows; the path without extension."""
    sounds_dir.mkdir(parents=True, exist_ok=True)
    return _audio_for(Prompt(text={lang: text}), lang, sounds_dir, sounds_dir)


def _audio_for(prompt: Prompt, lang: str, flows_dir: Path, sounds_dir: Path) -> Path:
    if lang in prompt.file:
        source = (flows_dir / prompt.file[lang]).resolve()
        if not source.exists():
            raise PromptError(f"prompt file {source} does not exist")
        key = hashlib.sha256(source.read_bytes()).hexdigest()[:20]
        target = sounds_dir / f"file-{key}"
        if not target.with_suffix(".wav").exists():
            _sox(source, target.with_suffix(".wav"))
        return target
    text = {str(k): v for k, v in prompt.text.items()}[lang]
    key = hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:20]
    target = sounds_dir / f"tts-{lang}-{key}"
    if not target.with_suffix(".wav").exists():
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "speech.wav"
            _speak(lang, text, raw)
            _sox(raw, target.with_suffix(".wav"))
    return target


def _speak(lang: str, text: str, out: Path) -> None:
    if lang == "ja":
        with contextlib.redirect_stdout(io.StringIO()):  # it prints an ONNX notice
            import pyopenjtalk  # heavy import, only when something must be synthesized

        samples, rate = pyopenjtalk.tts(text)
        peak = float(np.max(np.abs(samples))) or 1.0
        pcm = (samples * (0.9 * 32767 / peak)).astype("<i2")
        with wave.open(str(out), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(int(rate))
            wav.writeframes(pcm.tobytes())
        return
    if shutil.which("espeak-ng") is None:
        raise PromptError("espeak-ng is needed to speak English prompts: run 'make setup'")
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(out), text], check=True,
                   capture_output=True)


def _sox(source: Path, target: Path) -> None:
    if shutil.which("sox") is None:
        raise PromptError("sox is needed to convert prompts: run 'make setup'")
    tmp = target.with_suffix(".tmp.wav")
    done = subprocess.run(["sox", str(source), "-r", "8000", "-c", "1", "-b", "16",
                           "-e", "signed-integer", str(tmp)], capture_output=True, text=True)
    if done.returncode != 0:
        raise PromptError(f"cannot convert {source}: {done.stderr.strip()}")
    tmp.replace(target)
