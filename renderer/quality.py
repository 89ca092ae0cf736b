"""Measure a rendered MP4 from the file alone (decoded frames and audio track), never from renderer internals.

measure(path) answers: does the video last as long as its audio, are there blank or frozen frames, and does the
mouth (found again by the landmark detector) open with the sound — correlation with the audio envelope, the
A/V offset in frames by cross-correlation, and whether the mouth closes in silences.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .audio_features import ANALYSIS_RATE
from .face import FaceTracker, mouth_opening
from .media import AudioReader, iter_video_frames, probe_output

MAX_LAG_FRAMES = 8
BLANK_STD = 4.0  # a frame this flat (grey levels) shows nothing
FROZEN_DIFF = 0.05  # mean absolute difference below which two frames are the same picture
SILENCE_DB = 30.0  # below the loud reference: a pause


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

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("mouth_open")
        data.pop("envelope")
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in data.items()}


def audio_envelope(path: str | Path, fps: float, frames: int) -> np.ndarray:
    """Level in dB of the file's audio during each video frame."""
    samples = np.concatenate([chunk[0] for chunk in AudioReader(path, rate=ANALYSIS_RATE)] or [np.zeros(0)])
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
    """Correlation when the mouth is compared with the sound `lag` frames earlier."""
    if lag >= 0:
        return _correlation(mouth[lag:], sound[: len(sound) - lag])
    return _correlation(mouth[: len(mouth) + lag], sound[-lag:])


def measure(path: str | Path, reference_audio_duration: float | None = None) -> QualityReport:
    probe = probe_output(path)
    mouth, flat, frozen_run, longest_frozen, missing, previous = [], 0, 0, 0, 0, None
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
            if face is None:
                missing += 1
                mouth.append(np.nan)
            else:
                mouth.append(mouth_opening(face))
    opening = np.array(mouth, np.float64)
    if np.isnan(opening).all():
        opening[:] = 0.0
    opening = np.where(np.isnan(opening), np.nanmin(opening), opening)
    level = audio_envelope(path, probe.fps, len(opening))
    loud = np.percentile(level, 95) if len(level) else 0.0
    envelope = np.clip((level - (loud - SILENCE_DB)) / SILENCE_DB, 0, 1)
    lags = {lag: _lagged(opening, envelope, lag) for lag in range(-MAX_LAG_FRAMES, MAX_LAG_FRAMES + 1)}
    best = max(lags, key=lambda lag: (round(lags[lag], 6), -abs(lag)))
    silent = level < loud - SILENCE_DB
    rest = float(np.percentile(opening, 5))
    span = float(np.percentile(opening, 95) - rest) or 1.0
    closed = opening[silent] <= rest + 0.25 * span
    reference = reference_audio_duration if reference_audio_duration is not None else probe.audio_duration
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
    )
