"""The formant voices of espeak-ng (Debian's `espeak-ng` package), for the languages the neural voice lacks:
Mandarin Chinese among them. The only module that runs it; each unit is one process that writes a WAV file."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22_050
WORDS_PER_MINUTE = 175  # espeak-ng's own pace: rate 1
TIMEOUT_SECONDS = 60


def installed(language: str) -> tuple[bool, str]:
    if shutil.which("espeak-ng") is None:
        return False, "espeak-ng is not installed on this server"
    if language not in _listed_voices():
        return False, f"espeak-ng has no {language} voice here"
    return True, ""


@functools.cache
def _listed_voices() -> frozenset[str]:
    """The voice names espeak-ng lists (asked once per process: the menu asks for every voice on every page)."""
    listed = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    return frozenset(listed.stdout.split())


def say(text: str, language: str, rate: float) -> np.ndarray:
    """`text` said by espeak-ng's `language` voice at `rate` as mono int16 samples at SAMPLE_RATE."""
    speed = str(round(WORDS_PER_MINUTE * rate))
    with tempfile.TemporaryDirectory(prefix="espeak-") as workdir:
        path = Path(workdir) / "unit.wav"
        subprocess.run(
            ["espeak-ng", "-v", language, "-s", speed, "-b", "1", "-w", str(path), "--", text],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=True,
        )
        return _samples(path)


def _samples(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise RuntimeError(f"espeak-ng wrote {wav.getframerate()} Hz, {wav.getnchannels()} channels")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
