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
REST_CLOSURE = 0.85  # how far lips parted in the portrait close when nothing is said


def _device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


# Band energies (Hz) measured per hop. Their ratios are formant-like features: where the first formant sits
# (how far the jaw opens: high for "ah", low for "ee"/"oo"), how much energy lies high against low (front vowels
# and "s" spread the lips, back vowels round them) and the nasal murmur of "m"/"n" (nearly all energy very low,
# the lips closed).
BANDS = {
    "murmur": (80.0, 400.0),
    "f1_low": (150.0, 500.0),
    "f1_high": (500.0, 1100.0),
    "low": (150.0, 1000.0),
    "high": (1500.0, 4000.0),
    "all": (80.0, 5000.0),
}


class HopAnalyzer:
    """Consumes mono 16 kHz samples in any chunking and emits per-hop power and band energies."""

    def __init__(self, device: torch.device | None = None):
        self.device = device or _device()
        self.window = torch.hann_window(N_FFT, device=self.device)
        freqs = torch.fft.rfftfreq(N_FFT, 1 / ANALYSIS_RATE).to(self.device)
        self.bands = torch.stack([((freqs >= lo) & (freqs < hi)).float() for lo, hi in BANDS.values()], dim=1)
        self.buffer = np.zeros(N_FFT // 2, np.float32)  # centres hop j at sample j*HOP
        self.power: list[np.ndarray] = []
        self.band_energy: list[np.ndarray] = []

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
        self.power.append(power.cpu().numpy())
        self.band_energy.append((spectrum @ self.bands).cpu().numpy())
        self.buffer = self.buffer[count * HOP :]

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        power = np.concatenate(self.power) if self.power else np.zeros(0, np.float32)
        bands = np.concatenate(self.band_energy) if self.band_energy else np.zeros((0, len(BANDS)), np.float32)
        return power, bands


@dataclass
class FrameFeatures:
    """Features for video frames first_frame .. first_frame + len - 1 (absolute frame numbers)."""

    fps: int
    first_frame: int
    db: np.ndarray  # frame level, dBFS
    bands: np.ndarray  # (frames, len(BANDS)) spectral energy per band, summed over the frame's hops

    def __len__(self) -> int:
        return len(self.db)

    def band(self, name: str) -> np.ndarray:
        return self.bands[:, list(BANDS).index(name)]

    def slice(self, first: int, count: int) -> FrameFeatures:
        lo = first - self.first_frame
        return FrameFeatures(self.fps, first, self.db[lo : lo + count], self.bands[lo : lo + count])


def hop_features(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-hop power and band energies of a mono 16 kHz stream."""
    analyzer = HopAnalyzer()
    for chunk in chunks:
        analyzer.feed(chunk[0] if chunk.ndim == 2 else chunk)
    analyzer.finish()
    return analyzer.result()


def analyse_chunks(chunks: Iterable[np.ndarray], fps: int, start_time: float = 0.0) -> FrameFeatures:
    """Pool hop features of a mono 16 kHz stream (starting at start_time seconds) into video frames."""
    return pool_into_frames(*hop_features(chunks), fps, start_time)


def pool_into_frames(power: np.ndarray, bands: np.ndarray, fps: int, start_time: float = 0.0) -> FrameFeatures:
    hop_times = start_time + np.arange(len(power)) * (HOP / ANALYSIS_RATE)
    first_frame = int(math.floor(start_time * fps + 1e-6))
    frame_of_hop = np.floor(hop_times * fps + 1e-6).astype(np.int64) - first_frame
    count = int(frame_of_hop.max()) + 1 if len(frame_of_hop) else 0
    weight = np.bincount(frame_of_hop, minlength=count).astype(np.float64)
    weight[weight == 0] = 1
    mean_power = np.bincount(frame_of_hop, power, minlength=count) / weight
    db = 10 * np.log10(mean_power + 1e-10)
    # Energies are summed, so loud hops inside a frame weigh more than quiet ones in its ratios.
    summed = (
        np.stack([np.bincount(frame_of_hop, bands[:, k], minlength=count) for k in range(bands.shape[1])], axis=1)
        if count
        else np.zeros((0, len(BANDS)))
    )
    return FrameFeatures(fps=fps, first_frame=first_frame, db=db.astype(np.float32), bands=summed.astype(np.float32))


def loudness_reference(db: np.ndarray) -> float:
    """The level of loud speech (95th percentile of non-silent frames), so gain does not matter."""
    audible = db[db > SILENCE_FLOOR_DB]
    if len(audible) == 0:
        return SILENCE_FLOOR_DB
    return float(np.percentile(audible, 95))


@dataclass
class MotionDrivers:
    """What the animator needs per frame, all in 0..1 (spread in -1..1)."""

    mouth_open: np.ndarray  # how far the jaw drops
    spread: np.ndarray  # +1 lips spread ("ee"), -1 rounded ("oo"), 0 neutral ("ah")
    energy: np.ndarray  # slow speech energy for head motion
    closure: np.ndarray  # lips pressed together ("m", "b", "p"), closing even a smile that shows teeth


def _ratio_db(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return 10 * np.log10((numerator + 1e-12) / (denominator + 1e-12))


def viseme_weights(features: FrameFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: openness (first formant high, as in "ah"), spread (energy high in the spectrum against low,
    as in "ee" and "s"; negative, rounded, when both are low, as in "oo") and nasal murmur ("m"), each from
    ratios of band energies, so the voice's loudness and recording gain do not matter."""
    openness = np.clip((_ratio_db(features.band("f1_high"), features.band("f1_low")) + 7.0) / 14.0, 0.0, 1.0)
    front = np.clip((_ratio_db(features.band("high"), features.band("low")) + 10.0) / 6.0, 0.0, 1.0)
    rounded = (1.0 - front) * (1.0 - openness)
    murmur = np.clip((features.band("murmur") / (features.band("all") + 1e-12) - 0.8) / 0.07, 0.0, 1.0)
    return openness, front - rounded, murmur


def drivers_from_features(features: FrameFeatures, loudness_ref_db: float) -> MotionDrivers:
    gate = max(SILENCE_FLOOR_DB, loudness_ref_db - SPEECH_RANGE_DB)
    level = np.clip((features.db - gate) / max(1.0, loudness_ref_db - 2.0 - gate), 0.0, 1.0)
    voiced = features.db > gate
    openness, spread, murmur = viseme_weights(features)
    openness, murmur = _smooth3(openness), _smooth3(murmur)
    spread = _smooth3(_smooth3(spread))  # lips spread and round more slowly than the jaw moves
    # Vowels open the jaw by their first formant: "ah" fully, "ee" and "oo" about half as far.
    jaw = _smooth3(level) * (0.5 + 0.5 * openness) * (1.0 - murmur)
    mouth_open = np.where(voiced, jaw, 0.0) ** 1.2
    # Lips meet for "m" (murmur) and in the silence of a pause or of a "b"/"p" before its burst, even where the
    # portrait smiles with its teeth showing. Only the closing after speech is eased (half way on the first quiet
    # frame): easing the opening too would hold the lips shut into a word's first frame and start the mouth late.
    after_speech = np.concatenate([[False], voiced[:-1]]) if len(voiced) else voiced
    closure = np.where(voiced, murmur, np.where(after_speech, 0.5, 1.0) * REST_CLOSURE)
    energy = _gaussian_smooth(level, sigma=0.35 * features.fps)
    return MotionDrivers(
        mouth_open=mouth_open.astype(np.float32),
        spread=(spread * np.minimum(1.0, 3 * _smooth3(level))).astype(np.float32),
        energy=energy.astype(np.float32),
        closure=closure.astype(np.float32),
    )


def _smooth3(values: np.ndarray) -> np.ndarray:
    """A light 3-tap smoothing: removes flicker without moving the mouth off the sound."""
    if len(values) == 0:
        return values
    padded = np.pad(values, 1, mode="edge")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def _gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma)
    if radius < 1 or len(values) == 0:
        return values.copy()
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, taps, mode="valid")
