"""The quality gate's reference suite: portraits and audio that stress lip-sync, made from the committed fixtures.

Every input is derived deterministically (no randomness, no downloads) from tests/fixtures: portrait.jpg (the
astronaut portrait), speech.wav (espeak-ng en-us with pauses) and speech_voice2.wav (a second espeak-ng speaker;
tests/fixtures/make_fixtures.py makes all three). Each case names what it stresses in its description.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
RATE = 16000
HOP_SECONDS = 0.01
PAUSE_DB = -45.0  # a 10 ms hop this quiet (dBFS) is part of a pause
LONG_PAUSE_SECONDS = 2.5
EDGE_SILENCE_SECONDS = 2.0
FAST_SPEED = 1.5
SHORT_CLIP = (0.45, 1.25)  # seconds of speech.wav: the first word, 0.8 s
CANVAS = (1024, 768)  # width, height of the "large image" cases


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    portrait: Callable[[Path], Path]  # writes the case's portrait into a work folder, returns its path
    audio: Callable[[Path], Path]
    params: dict = field(default_factory=dict)  # render options on top of the run's resolution
    segment_seconds: float | None = None  # render in parts, as the portal does for long audio, then concat


# --- audio -----------------------------------------------------------------------------------------------------

def _fixture_speech(name: str) -> np.ndarray:
    samples, rate = sf.read(str(FIXTURES / name), dtype="float32")
    if rate != RATE or samples.ndim != 1:
        raise ValueError(f"{name} must be 16 kHz mono (tests/fixtures/make_fixtures.py makes it so)")
    return samples


def _write_wav(samples: np.ndarray, target: Path, rate: int = RATE) -> Path:
    sf.write(str(target), samples, rate, subtype="PCM_16")
    return target


def _pauses(samples: np.ndarray, min_seconds: float = 0.3) -> list[tuple[int, int]]:
    """(first, end) sample indices of every quiet run at least min_seconds long."""
    hop = int(HOP_SECONDS * RATE)
    hops = len(samples) // hop
    power = (samples[: hops * hop].astype(np.float64).reshape(hops, hop) ** 2).mean(axis=1)
    quiet = 10 * np.log10(power + 1e-12) < PAUSE_DB
    runs, start = [], None
    for index, is_quiet in enumerate([*quiet, False]):
        if is_quiet and start is None:
            start = index
        elif not is_quiet and start is not None:
            if index - start >= min_seconds / HOP_SECONDS:
                runs.append((start * hop, index * hop))
            start = None
    return runs


def fixture_audio(name: str) -> Callable[[Path], Path]:
    def make(workdir: Path) -> Path:
        return _write_wav(_fixture_speech(name), workdir / name)

    return make


def long_pauses(workdir: Path) -> Path:
    """Every pause between sentences stretched to LONG_PAUSE_SECONDS: the mouth must stay shut through them."""
    speech = _fixture_speech("speech.wav")
    last_hop = len(speech) - int(HOP_SECONDS * RATE)  # a run reaching it is the trailing silence, kept as is
    interior = [(a, b) for a, b in _pauses(speech) if a > 0 and b < last_hop]
    pieces, cursor = [], 0
    for first, end in interior:
        middle = (first + end) // 2
        pieces += [speech[cursor:middle], np.zeros(max(0, int(LONG_PAUSE_SECONDS * RATE) - (end - first)), np.float32)]
        cursor = middle
    pieces.append(speech[cursor:])
    return _write_wav(np.concatenate(pieces), workdir / "long_pauses.wav")


def fast_speech(workdir: Path) -> Path:
    """The same samples declared at 1.5x the rate: syllables come 1.5x faster (and higher), nothing is lost."""
    return _write_wav(_fixture_speech("speech.wav"), workdir / "fast_speech.wav", rate=int(RATE * FAST_SPEED))


def silence_edges(workdir: Path) -> Path:
    speech = _fixture_speech("speech.wav")
    edge = np.zeros(int(EDGE_SILENCE_SECONDS * RATE), np.float32)
    return _write_wav(np.concatenate([edge, speech, edge]), workdir / "silence_edges.wav")


def very_short(workdir: Path) -> Path:
    first, end = (int(seconds * RATE) for seconds in SHORT_CLIP)
    return _write_wav(_fixture_speech("speech.wav")[first:end], workdir / "very_short.wav")


def looped_speech(seconds: float, target: Path) -> Path:
    """The committed speech repeated to `seconds` (long inputs for the bench, lectures for tests and drills)."""
    speech = _fixture_speech("speech.wav")
    repeats = int(np.ceil(seconds * RATE / len(speech)))
    return _write_wav(np.tile(speech, repeats)[: int(seconds * RATE)], target)


def speech_twice(workdir: Path) -> Path:
    speech = _fixture_speech("speech.wav")
    return _write_wav(np.concatenate([speech, speech]), workdir / "speech_twice.wav")


# --- portraits -------------------------------------------------------------------------------------------------

def _backdrop(width: int, height: int) -> np.ndarray:
    """A soft studio-like gradient, so no case rests on a perfectly flat background."""
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    top, bottom = np.array([196, 186, 170], np.float32), np.array([104, 96, 88], np.float32)
    picture = top + (bottom - top) * ys + 18 * np.sin(np.pi * xs)
    return np.clip(picture, 0, 255).astype(np.uint8)


def _placed(name: str, canvas_size: tuple[int, int], x: int, y: int, scale: float = 1.0) -> Callable[[Path], Path]:
    """The fixture portrait scaled and pasted at (x, y) on a backdrop; parts past the canvas edge are cut off."""

    def make(workdir: Path) -> Path:
        portrait = cv2.imread(str(FIXTURES / "portrait.jpg"))
        if scale != 1.0:
            portrait = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        width, height = canvas_size
        canvas = _backdrop(width, height)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(width, x + portrait.shape[1]), min(height, y + portrait.shape[0])
        canvas[y0:y1, x0:x1] = portrait[y0 - y : y1 - y, x0 - x : x1 - x]
        target = workdir / f"{name}.png"
        cv2.imwrite(str(target), canvas)
        return target

    return make


def fixture_portrait(workdir: Path) -> Path:
    return FIXTURES / "portrait.jpg"


SUITE = [
    Case("normal_speech", "the fixture portrait speaking the fixture sentences with 0.7 s pauses",
         fixture_portrait, fixture_audio("speech.wav")),
    Case("long_pauses", f"pauses between sentences stretched to {LONG_PAUSE_SECONDS:g} s: the mouth must stay shut",
         fixture_portrait, long_pauses),
    Case("fast_speech", f"the speech {FAST_SPEED:g}x faster (declared at 24 kHz): syllables every few frames",
         fixture_portrait, fast_speech),
    Case("second_voice", "another speaker (espeak-ng en-gb female variant, higher pitch, other sentences)",
         fixture_portrait, fixture_audio("speech_voice2.wav")),
    Case("silence_edges", f"{EDGE_SILENCE_SECONDS:g} s of silence added before and after the speech",
         fixture_portrait, silence_edges),
    Case("very_short", f"a {SHORT_CLIP[1] - SHORT_CLIP[0]:.1f} s clip: the first word only",
         fixture_portrait, very_short),
    Case("multi_segment", "the speech twice (19 s) rendered in parts of at most 8 s cut at pauses, then joined "
         "(plan_parts + render(start, end, loudness_reference_db) + concat, as the portal does for long audio)",
         fixture_portrait, speech_twice, segment_seconds=8.0),
    Case("off_centre_face", "the portrait at the left edge of a 1024x768 image, partly cut off: the face crop "
         "meets the image border", _placed("off_centre_face", CANVAS, -120, 230), fixture_audio("speech.wav")),
    # 0.5x makes the face about 80 px, 8 % of the image width: too small for the face mesh's own (short-range)
    # detector, so this case goes through renderer/face.py's full-range detector and enlarged-crop meshing.
    Case("small_face", "an 80 px face in a 1024x768 image: found by the full-range detector, crop scaled up",
         _placed("small_face", CANVAS, 523, 307, scale=0.5), fixture_audio("speech.wav")),
    Case("wide_image", "a 16:9 landscape image animated whole (crop_face off): non-square output, smaller face",
         _placed("wide_image", (1024, 576), 300, 64), fixture_audio("speech.wav"), params={"crop_face": False}),
    Case("tall_image", "a 9:16 phone-style image animated whole (crop_face off): non-square output",
         _placed("tall_image", (576, 1024), 32, 160), fixture_audio("speech.wav"), params={"crop_face": False}),
]
CASES = {case.name: case for case in SUITE}


def select(names: str | None) -> list[Case]:
    """The cases named in a comma list (all of them for None), in suite order; ValueError for unknown names."""
    if not names:
        return list(SUITE)
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in CASES]
    if unknown:
        raise ValueError(f"unknown case {unknown[0]!r}; the suite has: {', '.join(CASES)}")
    return [case for case in SUITE if case.name in wanted]
