"""Measure a rendered MP4 from the file alone (decoded frames and audio track), never from renderer internals.

measure(path) answers: does the video last as long as its audio, are there blank or frozen frames, and does the
mouth (found again by the landmark detector) open with the sound — correlation with the audio envelope, the
A/V offset in frames by cross-correlation, and whether the mouth closes in silences. It also tells whether the
face stays the same person outside the mouth: identity drift (see IdentityDrift).

Three measures tell a mouth that moves like a mouth from one painted on (see MouthShape): the chin goes down with
the lip gap (a jaw, not a stretched lip), the mouth's shape follows the vowel heard (its width, once the part the
lip gap explains is taken out, correlates with a spectral feature of the audio: spread for "ee", rounded for "oo"),
and the open mouth is not one flat colour inside.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..audio_features import ANALYSIS_RATE
from ..face import (
    CHIN,
    EYES,
    INNER_LIP_BOTTOM,
    INNER_LIP_TOP,
    MOUTH_CORNER_LEFT,
    MOUTH_CORNER_RIGHT,
    SUBNASALE,
    Face,
    FaceTracker,
    mouth_opening,
)
from ..media import AudioReader, iter_video_frames, probe_output

MAX_LAG_FRAMES = 8
BLANK_STD = 4.0  # a frame this flat (grey levels) shows nothing
FROZEN_DIFF = 0.05  # mean absolute difference below which two frames are the same picture
SILENCE_DB = 30.0  # below the loud reference: a pause

FACE_OVAL = [
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
]
# Landmarks that neither the jaw nor the eyelids move: eye corners, nose bridge and tip, forehead, cheekbones.
STABLE_POINTS = [33, 133, 362, 263, 168, 6, 197, 195, 1, 10, 234, 454]
EYE_MARGIN = 0.3  # of the eye's width: the eyelid warp reaches a little past the lid landmarks
# The inner lip ring, corner to corner along the upper lip and back along the lower one.
INNER_LIP_RING = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
OPEN_SHARE = 0.25  # the widest-open quarter of the speech frames is where the mouth's inside is judged
COLOUR_BIN = 8.0  # Lab units: two pixels in one bin look the same colour
SPREAD_BANDS = ((1500.0, 4000.0), (150.0, 1000.0))  # Hz: high over low energy, high for "ee", low for "oo"/"ah"


@dataclass
class QualityReport:
    frames: int
    width: int
    height: int
    fps: float
    video_duration: float
    audio_duration: float
    duration_error: float  # seconds, video minus audio (or minus the reference audio when given)
    blank_frames: int
    longest_frozen_seconds: float
    faces_missing: int
    correlation: float  # mouth opening vs audio envelope, at zero lag
    best_lag_correlation: float
    offset_frames: int  # > 0: the mouth moves after the sound
    silent_frames: int
    mouth_closed_in_silence: float  # share of silent frames whose mouth is back near its resting opening
    mouth_open: list[float] = field(repr=False, default_factory=list)
    envelope: list[float] = field(repr=False, default_factory=list)
    identity_drift_mean: float = 0.0  # 1 - correlation of the upper face with the first frame's, aligned
    identity_drift_max: float = 0.0
    identity_drift: list[float] = field(repr=False, default_factory=list)  # per frame; NaN before a face is seen
    jaw_follow: float = 0.0  # correlation of the chin's drop with the lip gap over speech frames
    jaw_ratio: float = 0.0  # chin drop per unit of lip gap (a real jaw: about 0.5..1; a stretched lip: near 0)
    shape_correlation: float = 0.0  # mouth width (the lip gap's share taken out) vs the audio's spread feature
    width_range: float = 0.0  # how much the mouth's width varies in speech: p95 - p5, of its first width
    interior_flat_share: float = 1.0  # of the open mouth's inside, the largest share in one colour; 1 = flat paint

    def summary(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if not isinstance(v, list)}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}


class IdentityDrift:
    """How far each frame's face has moved away from the first frame's, outside the mouth and eyes.

    Each frame is aligned on the first by a similarity transform fitted to STABLE_POINTS, so head motion does
    not count; the compared region is the face oval above the nose, with the eye openings cut out, because
    speech moves everything from the nose down and blinks close the lids. The value is 1 - the zero-mean
    normalised correlation of the lightly blurred grey pixels: 0 for the same picture; the builtin animator
    scores 0.02-0.07 (more when the face is small or at the image's edge, where the head warp bends it), a
    blurred face about 0.2, a mirrored or scrambled one 0.5 and more. Brightness and contrast changes do not
    count. A frame without landmarks is aligned as the last one was."""

    def __init__(self):
        self.reference: np.ndarray | None = None
        self.reference_points: np.ndarray | None = None
        self.region: np.ndarray | None = None
        self.transform: np.ndarray | None = None
        self.sigma = 1.0
        self.values: list[float] = []

    def __call__(self, frame: np.ndarray, face: Face | None) -> None:
        if self.reference is None:
            if face is None:
                self.values.append(np.nan)
                return
            self._start(frame, face)
        reference, reference_points, region = self.reference, self.reference_points, self.region
        if reference is None or reference_points is None or region is None or self.transform is None:
            raise RuntimeError("IdentityDrift: _start() left the reference unset")  # cannot happen: it sets all four
        if face is not None:
            transform, _ = cv2.estimateAffinePartial2D(face.points[STABLE_POINTS], reference_points)
            if transform is not None:
                self.transform = transform
        gray = self._gray(frame)
        height, width = gray.shape
        aligned = cv2.warpAffine(
            gray, self.transform, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        self.values.append(_one_minus_zncc(aligned[region], reference[region]))

    def _start(self, frame: np.ndarray, face: Face) -> None:
        points = face.points
        self.sigma = max(1.0, face.size / 110)  # the same blur relative to the face at any resolution
        self.reference = self._gray(frame)
        self.reference_points = points[STABLE_POINTS]
        self.transform = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
        region = np.zeros(self.reference.shape, np.uint8)
        cv2.fillConvexPoly(region, cv2.convexHull(points[FACE_OVAL].astype(np.int32)), (1,))
        region[max(0, int(points[SUBNASALE, 1])) :] = 0
        for upper, lower in EYES:
            eye = points[upper + lower]
            opening = np.zeros_like(region)
            cv2.fillConvexPoly(opening, cv2.convexHull(eye.astype(np.int32)), (1,))
            grow = max(3, int(EYE_MARGIN * float(np.ptp(eye[:, 0])))) | 1
            region[cv2.dilate(opening, np.ones((grow, grow), np.uint8)) > 0] = 0
        self.region = region.astype(bool)

    def _gray(self, frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return cv2.GaussianBlur(gray, (0, 0), self.sigma)

    def summary(self) -> tuple[float, float]:
        seen = np.array([value for value in self.values if not np.isnan(value)])
        return (float(seen.mean()), float(seen.max())) if len(seen) else (0.0, 0.0)


class MouthShape:
    """Per frame: the chin's drop, the lip gap and the mouth's width in the first frame's coordinates (aligned
    by IdentityDrift's transform, so head motion does not count), and how flat the colour inside the inner lip
    ring is. Lengths are in units of the mouth's width in the first frame."""

    def __init__(self):
        self.unit: float | None = None
        self.chin_rest: float | None = None
        self.chin: list[float] = []
        self.gap: list[float] = []
        self.width: list[float] = []
        self.flat_share: list[float] = []

    def __call__(self, frame: np.ndarray, face: Face | None, transform: np.ndarray | None) -> None:
        if face is None or transform is None:
            for values in (self.chin, self.gap, self.width, self.flat_share):
                values.append(np.nan)
            return
        points = face.points @ transform[:, :2].T + transform[:, 2]
        width = float(np.linalg.norm(points[MOUTH_CORNER_RIGHT] - points[MOUTH_CORNER_LEFT]))
        if self.unit is None or self.chin_rest is None:  # both are set together, on the first face
            self.unit, self.chin_rest = max(1.0, width), float(points[CHIN, 1])
        self.chin.append((float(points[CHIN, 1]) - self.chin_rest) / self.unit)
        self.gap.append(float(np.linalg.norm(points[INNER_LIP_BOTTOM] - points[INNER_LIP_TOP])) / self.unit)
        self.width.append(width / self.unit)
        self.flat_share.append(_flat_share(frame, face.points[INNER_LIP_RING]))

    def jaw(self, speech: np.ndarray) -> tuple[float, float]:
        chin, gap = np.array(self.chin), np.array(self.gap)
        keep = speech[: len(chin)] & ~np.isnan(chin)
        if keep.sum() < 3 or gap[keep].std() < 1e-6:
            return 0.0, 0.0
        chin, gap = chin[keep], gap[keep]
        slope = float(np.polyfit(gap, chin, 1)[0])
        return _correlation(chin, gap), slope

    def shape(self, speech: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
        """The width's partial correlation with the audio's spread feature (the gap held constant: a mouth that
        only opens and closes widens with the jaw too) and the width's range over speech frames."""
        width, gap = np.array(self.width), np.array(self.gap)
        keep = speech[: len(width)] & ~np.isnan(width) & ~np.isnan(spread[: len(width)])
        if keep.sum() < 5:
            return 0.0, 0.0
        width, gap, feature = width[keep], gap[keep], spread[: len(keep)][keep]
        design = np.vstack([gap, np.ones_like(gap)]).T
        residual = width - design @ np.linalg.lstsq(design, width, rcond=None)[0]
        return _correlation(residual, feature), float(np.percentile(width, 95) - np.percentile(width, 5))

    def interior_flat_share(self, speech: np.ndarray) -> float:
        """Mean over the widest-open quarter of speech frames whose inside is big enough to judge."""
        gap, share = np.array(self.gap), np.array(self.flat_share)
        keep = speech[: len(gap)] & ~np.isnan(share)
        if not keep.any():
            return 1.0
        widest = gap >= np.quantile(gap[keep], 1 - OPEN_SHARE)
        chosen = share[keep & widest]
        return float(chosen.mean()) if len(chosen) else 1.0


def _flat_share(frame: np.ndarray, ring: np.ndarray) -> float:
    """The largest share of the pixels inside the ring that fall in one colour bin; NaN when under 12 pixels."""
    x0, y0 = np.floor(ring.min(axis=0)).astype(int)
    x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 1
    x0, y0 = max(0, x0), max(0, y0)
    patch = frame[y0:y1, x0:x1]
    if patch.size == 0:
        return np.nan
    inside: np.ndarray = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(ring - [x0, y0]).astype(np.int32)], (1,))
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8))  # the lip edge itself is not the inside
    if inside.sum() < 12:
        return np.nan
    lab = cv2.cvtColor(patch, cv2.COLOR_BGR2LAB).astype(np.float32)[inside > 0]
    lab[:, 0] *= 100 / 255  # OpenCV's 8-bit L runs to 255; a and b are already in Lab units (+128)
    bins = np.floor(lab / COLOUR_BIN).astype(np.int64)
    _, counts = np.unique(bins, axis=0, return_counts=True)
    return float(counts.max() / len(bins))


def audio_spread(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """log10 of high-band over low-band energy of the audio per video frame: high for "ee" and "s", low for
    "oo" and "ah" (the front/back and spread/rounded axis of vowels); NaN in frames with no energy."""
    per_frame = ANALYSIS_RATE / fps
    size = 512
    freqs = np.fft.rfftfreq(size, 1 / ANALYSIS_RATE)
    (high_lo, high_hi), (low_lo, low_hi) = SPREAD_BANDS
    high = (freqs >= high_lo) & (freqs < high_hi)
    low = (freqs >= low_lo) & (freqs < low_hi)
    window = np.hanning(size)
    values = np.full(frames, np.nan)
    for index in range(frames):
        centre = int((index + 0.5) * per_frame)
        chunk = samples[max(0, centre - size // 2) : centre + size // 2]
        if len(chunk) < size:
            chunk = np.pad(chunk, (0, size - len(chunk)))
        spectrum = np.abs(np.fft.rfft(chunk * window)) ** 2
        if spectrum[low].sum() > 1e-9:
            values[index] = np.log10((spectrum[high].sum() + 1e-12) / spectrum[low].sum())
    return values


def _one_minus_zncc(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 16:
        return np.nan
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return 1.0 - float((a * b).sum()) / scale if scale > 1e-6 else np.nan


def decoded_audio(path: str | Path) -> np.ndarray:
    """The file's first audio channel at ANALYSIS_RATE, decoded once for every audio measure."""
    return np.concatenate([chunk[0] for chunk in AudioReader(path, rate=ANALYSIS_RATE)] or [np.zeros(0)])


def audio_envelope(samples: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """Level in dB of the audio during each video frame."""
    per_frame = ANALYSIS_RATE / fps
    levels = np.full(frames, -100.0)
    for index in range(frames):
        window = samples[int(index * per_frame) : int((index + 1) * per_frame)]
        if len(window):
            levels[index] = 10 * np.log10(np.mean(window.astype(np.float64) ** 2) + 1e-10)
    return levels


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _lagged(mouth: np.ndarray, sound: np.ndarray, lag: int) -> float:
    """Correlation when the mouth is compared with the sound `lag` frames earlier (0 when a clip is shorter than
    the lag: nothing overlaps)."""
    overlap = len(mouth) - abs(lag)
    if overlap <= 0:
        return 0.0
    if lag >= 0:
        return _correlation(mouth[lag:], sound[:overlap])
    return _correlation(mouth[:overlap], sound[-lag : -lag + overlap])


def measure(path: str | Path, reference_audio_duration: float | None = None) -> QualityReport:
    probe = probe_output(path)
    mouth, flat, frozen_run, longest_frozen, missing, previous = [], 0, 0, 0, 0, None
    drift = IdentityDrift()
    shape = MouthShape()
    with FaceTracker() as tracker:
        for frame in iter_video_frames(path):
            if frame.std() < BLANK_STD:
                flat += 1
            if previous is not None and np.abs(frame.astype(np.int16) - previous).mean() < FROZEN_DIFF:
                frozen_run += 1
                longest_frozen = max(longest_frozen, frozen_run)
            else:
                frozen_run = 0
            previous = frame.astype(np.int16)
            face = tracker(frame)
            drift(frame, face)
            shape(frame, face, drift.transform)
            if face is None:
                missing += 1
                mouth.append(np.nan)
            else:
                mouth.append(mouth_opening(face))
    opening = np.array(mouth, np.float64)
    if np.isnan(opening).all():
        opening[:] = 0.0
    opening = np.where(np.isnan(opening), np.nanmin(opening), opening)
    samples = decoded_audio(path)
    level = audio_envelope(samples, probe.fps, len(opening))
    loud = np.percentile(level, 95) if len(level) else 0.0
    envelope = np.clip((level - (loud - SILENCE_DB)) / SILENCE_DB, 0, 1)
    lags = {lag: _lagged(opening, envelope, lag) for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1)}
    best = max(lags, key=lambda lag: (round(lags[lag], 6), -abs(lag)))
    silent = level < loud - SILENCE_DB
    rest = float(np.percentile(opening, 5))
    span = float(np.percentile(opening, 95) - rest) or 1.0
    closed = opening[silent] <= rest + 0.25 * span
    reference = reference_audio_duration if reference_audio_duration is not None else probe.audio_duration
    drift_mean, drift_max = drift.summary()
    speech = ~silent & ~np.isnan(np.array(mouth, np.float64))
    jaw_follow, jaw_ratio = shape.jaw(speech)
    shape_correlation, width_range = shape.shape(speech, audio_spread(samples, probe.fps, len(opening)))
    return QualityReport(
        frames=probe.frames,
        width=probe.width,
        height=probe.height,
        fps=probe.fps,
        video_duration=probe.video_duration,
        audio_duration=probe.audio_duration,
        duration_error=probe.video_duration - reference,
        blank_frames=flat,
        longest_frozen_seconds=longest_frozen / probe.fps if probe.fps else 0.0,
        faces_missing=missing,
        correlation=lags[0],
        best_lag_correlation=lags[best],
        offset_frames=best,
        silent_frames=int(silent.sum()),
        mouth_closed_in_silence=float(closed.mean()) if len(closed) else 1.0,
        mouth_open=opening.tolist(),
        envelope=envelope.tolist(),
        identity_drift_mean=drift_mean,
        identity_drift_max=drift_max,
        identity_drift=drift.values,
        jaw_follow=jaw_follow,
        jaw_ratio=jaw_ratio,
        shape_correlation=shape_correlation,
        width_range=width_range,
        interior_flat_share=shape.interior_flat_share(speech),
    )
