"""Speech from a script: a teacher's text -> spoken audio, with a caption cue timed on each unit said.

Importable and runnable without Django. The public API:

    VOICES, DEFAULT_VOICE                      the voices the engine knows, by name
    voice(name) -> Voice                       ScriptError unknown_voice / voice_not_installed
    prepare(text, voice_name, rate) -> Prepared   the checked script cut into units; ScriptError on bad input
    Prepared.estimated_seconds                 how long it will take to say, before it is said
    speak(prepared) -> Speech                  samples (int16 mono), sample_rate, cues [Cue(start, end, text)]
    Speech.write_flac(path)                    lossless, so the cues stay on the samples they were timed on

The neural English voice is Piper's (piper_voice.py); the other languages are espeak-ng's (espeak_voice.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from renderer.captions import Cue
from renderer.speech import espeak_voice, piper_voice, script
from renderer.speech.script import ScriptError

SAMPLE_RATE = 22_050
# Below this level (relative to the unit's peak) a unit's ends are silence, trimmed so that its cue starts and
# ends on the speech itself.
SILENCE_DB = -40.0
WINDOW_SECONDS = 0.005


@dataclass(frozen=True)
class Voice:
    name: str
    label: str  # what the voice menu shows, in English (the portal translates it)
    language: str  # BCP 47: the captions' language
    engine: str  # "piper" or "espeak"
    scripts: frozenset[str]  # the writing systems it can read: "latin", "cjk", ...
    characters_per_second: float  # at rate 1, for the estimate before speaking
    espeak_voice: str = ""

    def installed(self) -> tuple[bool, str]:
        if self.engine == "piper":
            return piper_voice.installed()
        return espeak_voice.installed(self.espeak_voice)

    def say(self, text: str, rate: float) -> np.ndarray:
        if self.engine == "piper":
            return piper_voice.say(text, rate)
        return espeak_voice.say(text, self.espeak_voice, rate)


_LATIN = frozenset({"latin"})
VOICES = {
    voice.name: voice
    for voice in (
        Voice("en-joe", "Joe · English (US), natural", "en-US", "piper", _LATIN, 17.5),
        Voice("zh-cmn", "Mandarin Chinese (espeak-ng)", "zh-CN", "espeak", frozenset({"cjk", "latin"}), 3.4, "cmn"),
        Voice("en-espeak", "English (espeak-ng)", "en-US", "espeak", _LATIN, 14.0, "en-us"),
        Voice("fr-espeak", "French (espeak-ng)", "fr-FR", "espeak", _LATIN, 14.0, "fr-fr"),
        Voice("de-espeak", "German (espeak-ng)", "de-DE", "espeak", _LATIN, 13.0, "de"),
        Voice("es-espeak", "Spanish (espeak-ng)", "es-ES", "espeak", _LATIN, 14.0, "es"),
    )
}
DEFAULT_VOICE = "en-joe"


def voice(name: str) -> Voice:
    """The voice called `name`, if this machine can run it."""
    found = VOICES.get(name)
    if found is None:
        raise ScriptError(
            f"There is no voice called {name!r}; choose one of {', '.join(VOICES)}.",
            code="unknown_voice",
            field="voice",
        )
    installed, reason = found.installed()
    if not installed:
        raise ScriptError(
            f"The voice {found.label} is not installed here ({reason}).", code="voice_not_installed", field="voice"
        )
    return found


@dataclass(frozen=True)
class Prepared:
    text: str
    voice: Voice
    rate: float
    units: list[script.Unit]

    @property
    def estimated_seconds(self) -> float:
        spoken = sum(len(unit.text) for unit in self.units) / self.voice.characters_per_second
        pauses = script.LEAD_IN + sum(unit.gap_after for unit in self.units)
        return round((spoken + pauses) / self.rate, 1)


def prepare(text: str, voice_name: str = DEFAULT_VOICE, rate: float = 1.0) -> Prepared:
    chosen = voice(voice_name)
    checked = script.check(text, chosen.scripts, chosen.label)
    return Prepared(checked, chosen, script.check_rate(rate), script.units(checked))


@dataclass
class Speech:
    samples: np.ndarray
    sample_rate: int
    cues: list[Cue] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / self.sample_rate

    def write_flac(self, path: Path) -> None:
        import soundfile

        soundfile.write(str(path), self.samples, self.sample_rate, format="FLAC", subtype="PCM_16")


def _spoken_span(samples: np.ndarray) -> tuple[int, int]:
    """The first and last sample of speech in a unit, to the nearest window."""
    window = max(1, int(WINDOW_SECONDS * SAMPLE_RATE))
    count = len(samples) // window
    if count == 0:
        return 0, len(samples)
    frames = samples[: count * window].astype(np.float32).reshape(count, window)
    level = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    loud = np.flatnonzero(20 * np.log10(level / level.max()) > SILENCE_DB)
    return int(loud[0]) * window, int(loud[-1] + 1) * window


def speak(prepared: Prepared, progress: Callable[[float], None] | None = None) -> Speech:
    """Say each unit, trim its silent ends, and lay the units out with the script's pauses between them."""
    parts: list[np.ndarray] = []
    cues: list[Cue] = []
    position = round(script.LEAD_IN / prepared.rate * SAMPLE_RATE)
    parts.append(np.zeros(position, dtype=np.int16))
    for index, unit in enumerate(prepared.units):
        said = prepared.voice.say(unit.text, prepared.rate)
        start, end = _spoken_span(said)
        if end > start:
            parts.append(said[start:end])
            cues.append(
                Cue(position / SAMPLE_RATE, (position + end - start) / SAMPLE_RATE, script.caption_lines(unit.text))
            )
            position += end - start
        gap = round(unit.gap_after / prepared.rate * SAMPLE_RATE)
        parts.append(np.zeros(gap, dtype=np.int16))
        position += gap
        if progress is not None:
            progress((index + 1) / len(prepared.units))
    return Speech(np.concatenate(parts), SAMPLE_RATE, cues)


__all__ = ["DEFAULT_VOICE", "VOICES", "Prepared", "ScriptError", "Speech", "Voice", "prepare", "speak", "voice"]
