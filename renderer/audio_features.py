"""Per-video-frame audio features computed with torch, streamed in chunks.

Features are measured on 10 ms hops (32 ms Hann windows at 16 kHz) and pooled into video frames, so
any fps works. Everything is a function of absolute time: analysing a window with some context around
it gives the same numbers as analysing the whole file, which keeps segment joins seamless.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

ANALYSIS_RATE = 16000
HOP = 160  # 10 ms
N_FFT = 512
SILENCE_FLOOR_DB = -60.0  # dBFS; quieter than this is silence whatever the recording level
SPEECH_RANGE_DB = 28.0  # frames this far below the loud reference count as silence


def _device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


class HopAnalyzer:
    """Consumes mono 16 kHz samples in any chunking and emits per-hop power, centroid and low-band ratio."""

    def __init__(self, device: torch.device | None = None):
        self.device = device or _device()
        self.window = torch.hann_window(N_FFT, device=self.device)
        freqs = torch.fft.rfftfreq(N_FFT, 1 / ANALYSIS_RATE).to(self.device)
        self.freqs = freqs
        self.band = ((freqs >= 80) & (freqs <= 6000)).float()
        self.low = ((freqs >= 80) & (freqs <= 900)).float()
        self.buffer = np.zeros(N_FFT // 2, np.float32)  # centres hop j at sample j*HOP
        self.power: list[np.ndarray] = []
        self.centroid: list[np.ndarray] = []
        self.low_ratio: list[np.ndarray] = []

    def feed(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples.astype(np.float32, copy=False)])
        if len(self.buffer) >= N_FFT + 100 * HOP:
            self._drain()

    def finish(self) -> None:
        self.buffer = np.concatenate([self.buffer, np.zeros(N_FFT // 2, np.float32)])
        self._drain()

    def _drain(self) -> None:
        count = (len(self.buffer) - N_FFT) // HOP + 1
        if count <= 0:
            return
        used = (count - 1) * HOP + N_FFT
        block = torch.from_numpy(self.buffer[:used].copy()).to(self.device)
        frames = block.unfold(0, N_FFT, HOP)  # (count, N_FFT)
        power = frames.pow(2).mean(dim=1)
        spectrum = torch.fft.rfft(frames * self.window, dim=1).abs().pow(2)
        in_band = (spectrum * self.band).sum(dim=1) + 1e-12
        centroid = (spectrum * self.band * self.freqs).sum(dim=1) / in_band
        low_ratio = (spectrum * self.low).sum(dim=1) / in_band
        self.power.append(power.cpu().numpy())
        self.centroid.append(centroid.cpu().numpy())
        self.low_ratio.append(low_ratio.cpu().numpy())
        self.buffer = self.buffer[count * HOP :]

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        def join(parts):
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)

        return join(self.power), join(self.centroid), join(self.low_ratio)


@dataclass
class FrameFeatures:
    """Features for video frames first_frame .. first_frame + len - 1 (absolute frame numbers)."""

    fps: int
    first_frame: int
    db: np.ndarray  # frame level, dBFS
    centroid: np.ndarray  # Hz
    low_ratio: np.ndarray  # share of energy below 900 Hz

    def __len__(self) -> int:
        return len(self.db)

    def slice(self, first: int, count: int) -> FrameFeatures:
        lo = first - self.first_frame
        return FrameFeatures(
            self.fps,
            first,
            self.db[lo : lo + count],
            self.centroid[lo : lo + count],
            self.low_ratio[lo : lo + count],
        )


def hop_features(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-hop power, centroid and low-band ratio of a mono 16 kHz stream."""
    analyzer = HopAnalyzer()
    for chunk in chunks:
        analyzer.feed(chunk[0] if chunk.ndim == 2 else chunk)
    analyzer.finish()
    return analyzer.result()


def analyse_chunks(chunks: Iterable[np.ndarray], fps: int, start_time: float = 0.0) -> FrameFeatures:
    """Pool hop features of a mono 16 kHz stream (starting at start_time seconds) into video frames."""
    return pool_into_frames(*hop_features(chunks), fps, start_time)


def pool_into_frames(power: np.ndarray, centroid: np.ndarray, low_ratio: np.ndarray, fps: int,
                     start_time: float = 0.0) -> FrameFeatures:
    hop_times = start_time + np.arange(len(power)) * (HOP / ANALYSIS_RATE)
    first_frame = int(math.floor(start_time * fps + 1e-6))
    frame_of_hop = np.floor(hop_times * fps + 1e-6).astype(np.int64) - first_frame
    count = int(frame_of_hop.max()) + 1 if len(frame_of_hop) else 0
    weight = np.bincount(frame_of_hop, minlength=count).astype(np.float64)
    weight[weight == 0] = 1
    mean_power = np.bincount(frame_of_hop, power, minlength=count) / weight
    db = 10 * np.log10(mean_power + 1e-10)
    # Weight spectral shape by power so quiet hops inside a frame do not dominate it.
    power_sum = np.bincount(frame_of_hop, power, minlength=count) + 1e-12
    mean_centroid = np.bincount(frame_of_hop, power * centroid, minlength=count) / power_sum
    mean_low = np.bincount(frame_of_hop, power * low_ratio, minlength=count) / power_sum
    return FrameFeatures(
        fps=fps,
        first_frame=first_frame,
        db=db.astype(np.float32),
        centroid=mean_centroid.astype(np.float32),
        low_ratio=mean_low.astype(np.float32),
    )


def loudness_reference(db: np.ndarray) -> float:
    """The level of loud speech (95th percentile of non-silent frames), so gain does not matter."""
    audible = db[db > SILENCE_FLOOR_DB]
    if len(audible) == 0:
        return SILENCE_FLOOR_DB
    return float(np.percentile(audible, 95))


@dataclass
class MotionDrivers:
    """What the animator needs per frame, all in 0..1 (spread in -1..1)."""

    mouth_open: np.ndarray
    spread: np.ndarray
    energy: np.ndarray  # slow speech energy for head motion


def drivers_from_features(features: FrameFeatures, loudness_ref_db: float) -> MotionDrivers:
    gate = max(SILENCE_FLOOR_DB, loudness_ref_db - SPEECH_RANGE_DB)
    level = np.clip((features.db - gate) / max(1.0, loudness_ref_db - 2.0 - gate), 0.0, 1.0)
    # A light 3-tap smoothing removes flicker without moving the mouth off the sound.
    padded = np.pad(level, 1, mode="edge")
    smooth = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    mouth_open = np.where(features.db > gate, smooth, 0.0) ** 1.3
    brightness = np.clip((features.centroid - 1400.0) / 1200.0, -1.0, 1.0)
    rounding = np.clip((features.low_ratio - 0.6) / 0.3, 0.0, 1.0)
    spread = np.clip(brightness - rounding, -1.0, 1.0) * np.minimum(1.0, 2 * mouth_open)
    energy = _gaussian_smooth(level, sigma=0.35 * features.fps)
    return MotionDrivers(
        mouth_open=mouth_open.astype(np.float32),
        spread=spread.astype(np.float32),
        energy=energy.astype(np.float32),
    )


def _gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma)
    if radius < 1 or len(values) == 0:
        return values.copy()
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, taps, mode="valid")
