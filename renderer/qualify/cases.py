"""The quality gate's reference suite: portraits and audio that stress lip-sync, made from the committed fixtures.

Every input is derived deterministically (seeded, no downloads) from the fixtures beside this module (fixtures/):
portrait.jpg (the astronaut portrait: a smile that shows the upper teeth), speech.wav (espeak-ng en-us with
pauses), speech_voice2.wav (a second espeak-ng speaker) and speech_zh.wav (espeak-ng Mandarin;
fixtures/make_fixtures.py makes them all), and from matplotlib's sample photo of Grace Hopper (US Navy, public
domain; matplotlib comes with mediapipe): a closed mouth behind glasses. The beard, the child's proportions, the
three-quarter view and the painting are drawn or warped from those two photos. Each case names what it stresses
in its description. They live inside the package so that an installed renderer can qualify itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from ..face import CHIN, EYES, LOWER_OUTER_LIP, NOSE_TIP, UPPER_OUTER_LIP, detect_faces

FIXTURES = Path(__file__).resolve().parent / "fixtures"
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
        raise ValueError(f"{name} must be 16 kHz mono (renderer/qualify/fixtures/make_fixtures.py makes it so)")
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


def grace_hopper(workdir: Path) -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _landmarks(image: np.ndarray) -> np.ndarray:
    return detect_faces(image)[0].points


def _write_portrait(image: np.ndarray, name: str, workdir: Path) -> Path:
    target = workdir / f"{name}.png"
    cv2.imwrite(str(target), image)
    return target


def bearded(workdir: Path) -> Path:
    """The astronaut with a full beard and moustache drawn in short dark strokes around the lips."""
    image = cv2.imread(str(FIXTURES / "portrait.jpg"))
    points = _landmarks(image)
    beard: np.ndarray = np.zeros(image.shape[:2], np.uint8)
    jaw = points[
        [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, CHIN, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454]
    ]
    cheek_line = points[[454, 366, 425, 423, 164, 203, 205, 137, 234]]  # across the cheeks, under the nose
    cv2.fillPoly(beard, [np.round(np.vstack([jaw, cheek_line])).astype(np.int32)], (1,))
    lips = np.vstack([points[UPPER_OUTER_LIP], points[LOWER_OUTER_LIP][::-1]])
    cv2.fillPoly(beard, [np.round(lips).astype(np.int32)], (0,))
    beard = cv2.erode(beard, np.ones((3, 3), np.uint8))
    rng = np.random.default_rng(5)
    hair = image.copy()
    ys, xs = np.nonzero(beard)
    for index in rng.choice(len(xs), size=min(len(xs), 9000), replace=False):
        x, y = int(xs[index]), int(ys[index])
        angle = np.pi / 2 + rng.normal(0, 0.35)
        length = rng.uniform(3, 7)
        tone = rng.uniform(25, 70)
        end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
        cv2.line(hair, (x, y), end, (tone * 0.7, tone * 0.85, tone), 1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(beard.astype(np.float32), (0, 0), 2.0)[..., None]
    image = (image * (1 - mask) + hair * mask).astype(np.uint8)
    return _write_portrait(image, "beard", workdir)


def _remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(
        image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


def childlike(workdir: Path) -> Path:
    """The astronaut warped to a child's proportions: larger eyes, a shorter lower face and a smaller chin."""
    image = cv2.imread(str(FIXTURES / "portrait.jpg"))
    image = cv2.bilateralFilter(image, 9, 40, 9)  # smoother skin
    points = _landmarks(image)
    height, width = image.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x.copy(), grid_y.copy()
    for upper, lower in EYES:
        centre = points[upper + lower].mean(axis=0)
        radius = 1.6 * float(np.ptp(points[upper, 0]))
        distance = np.hypot(grid_x - centre[0], grid_y - centre[1])
        pull = 0.35 * np.clip(1 - distance / radius, 0, 1) ** 2  # magnify: sample closer to the centre
        map_x -= pull * (grid_x - centre[0])
        map_y -= pull * (grid_y - centre[1])
    nose_y, chin_y = float(points[NOSE_TIP, 1]), float(points[CHIN, 1])
    below_nose = np.clip((grid_y - nose_y) / (chin_y - nose_y), 0, None)
    fade = np.exp(-(np.clip(below_nose - 1.2, 0, None) ** 2) / 0.2)
    map_y += 0.25 * (grid_y - nose_y) * (below_nose > 0) * fade  # sample further down: a shorter lower face
    return _write_portrait(_remap(image, map_x, map_y), "child", workdir)


def three_quarter(workdir: Path) -> Path:
    """Grace Hopper's portrait turned about 25 degrees: the picture wrapped on a vertical cylinder through the
    head and rotated, so the far side of the face narrows as in a three-quarter view."""
    image = cv2.imread(str(grace_hopper(workdir)))
    points = _landmarks(image)
    height, width = image.shape[:2]
    centre = float(points[:, 0].mean())
    radius = 0.75 * float(np.ptp(points[:, 0]))
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    angle = np.arcsin(np.clip((grid_x - centre) / radius, -1, 1)) - np.deg2rad(25)
    inside = np.abs(grid_x - centre) < radius
    source_x = np.where(inside, centre + radius * np.sin(np.clip(angle, -np.pi / 2, np.pi / 2)), grid_x)
    blend = np.clip(1 - np.abs(grid_x - centre) / radius, 0, 1) ** 0.5  # the background bends less
    map_x = grid_x + (source_x - grid_x) * blend
    return _write_portrait(_remap(image, map_x, grid_y), "three_quarter", workdir)


def painting(workdir: Path) -> Path:
    """The astronaut as an oil painting (OpenCV's oil-paint filter): brushed colour areas, no photographic grain."""
    image = cv2.imread(str(FIXTURES / "portrait.jpg"))
    return _write_portrait(cv2.xphoto.oilPainting(image, 4, 1), "painting", workdir)


SUITE = [
    Case(
        "normal_speech",
        "the fixture portrait speaking the fixture sentences with 0.7 s pauses",
        fixture_portrait,
        fixture_audio("speech.wav"),
    ),
    Case(
        "long_pauses",
        f"pauses between sentences stretched to {LONG_PAUSE_SECONDS:g} s: the mouth must stay shut",
        fixture_portrait,
        long_pauses,
    ),
    Case(
        "fast_speech",
        f"the speech {FAST_SPEED:g}x faster (declared at 24 kHz): syllables every few frames",
        fixture_portrait,
        fast_speech,
    ),
    Case(
        "second_voice",
        "another speaker (espeak-ng en-gb female variant, higher pitch, other sentences)",
        fixture_portrait,
        fixture_audio("speech_voice2.wav"),
    ),
    Case(
        "silence_edges",
        f"{EDGE_SILENCE_SECONDS:g} s of silence added before and after the speech",
        fixture_portrait,
        silence_edges,
    ),
    Case(
        "very_short", f"a {SHORT_CLIP[1] - SHORT_CLIP[0]:.1f} s clip: the first word only", fixture_portrait, very_short
    ),
    Case(
        "multi_segment",
        "the speech twice (19 s) rendered in parts of at most 8 s cut at pauses, then joined "
        "(plan_parts + render(start, end, loudness_reference_db) + concat, as the portal does for long audio)",
        fixture_portrait,
        speech_twice,
        segment_seconds=8.0,
    ),
    Case(
        "off_centre_face",
        "the portrait at the left edge of a 1024x768 image, partly cut off: the face crop meets the image border",
        _placed("off_centre_face", CANVAS, -120, 230),
        fixture_audio("speech.wav"),
    ),
    # 0.5x makes the face about 80 px, 8 % of the image width: too small for the face mesh's own (short-range)
    # detector, so this case goes through renderer/face.py's full-range detector and enlarged-crop meshing.
    Case(
        "small_face",
        "an 80 px face in a 1024x768 image: found by the full-range detector, crop scaled up",
        _placed("small_face", CANVAS, 523, 307, scale=0.5),
        fixture_audio("speech.wav"),
    ),
    Case(
        "wide_image",
        "a 16:9 landscape image animated whole (crop_face off): non-square output, smaller face",
        _placed("wide_image", (1024, 576), 300, 64),
        fixture_audio("speech.wav"),
        params={"crop_face": False},
    ),
    Case(
        "tall_image",
        "a 9:16 phone-style image animated whole (crop_face off): non-square output",
        _placed("tall_image", (576, 1024), 32, 160),
        fixture_audio("speech.wav"),
        params={"crop_face": False},
    ),
    Case(
        "closed_mouth_glasses",
        "Grace Hopper: lips closed at rest, glasses, an older face; teeth must be made up",
        grace_hopper,
        fixture_audio("speech.wav"),
    ),
    Case(
        "mandarin",
        "the astronaut speaking espeak-ng Mandarin (other vowels, tones, no English rhythm)",
        fixture_portrait,
        fixture_audio("speech_zh.wav"),
    ),
    Case(
        "beard",
        "the astronaut with a drawn full beard and moustache: the jaw moves the hair with it",
        bearded,
        fixture_audio("speech_voice2.wav"),
    ),
    Case(
        "child",
        "the astronaut warped to a child's proportions (larger eyes, short lower face, small chin)",
        childlike,
        fixture_audio("speech.wav"),
    ),
    Case(
        "three_quarter",
        "Grace Hopper turned about 25 degrees (cylinder warp): a three-quarter view",
        three_quarter,
        fixture_audio("speech_voice2.wav"),
    ),
    Case(
        "painting",
        "the astronaut as an oil painting (OpenCV's oil-paint filter)",
        painting,
        fixture_audio("speech.wav"),
    ),
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
