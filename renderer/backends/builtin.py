"""The built-in backend: mediapipe landmarks + the portrait animator + PyAV encoding. Runs anywhere."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..animator import PortraitAnimator
from ..params import RenderParams
from ..stages import CancelCheck, ProgressCallback, analyse_audio, encode_video, load_audio, preprocess_image
from ..watermark import AI_METADATA, Watermark

NAME = "builtin"
VERSION = "builtin-1"


def availability() -> tuple[bool, str]:
    device = "CUDA" if torch.cuda.is_available() else "CPU"
    return True, f"always available (audio features on {device})"


def render(
    portrait_path: Path,
    audio_path: Path,
    output_path: Path,
    params: RenderParams,
    *,
    start: float,
    end: float | None,
    poster_path: Path | None,
    progress: ProgressCallback,
    should_cancel: CancelCheck | None,
    timings: dict[str, float],
    watermark: bool,
) -> dict:
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - clock
        clock = now

    progress(0.0, "load_audio")
    source = load_audio(audio_path, start=start, end=end)
    lap("load_audio")
    progress(0.02, "analyse_audio")
    analysis = analyse_audio(source, params.fps)
    lap("analyse_audio")
    progress(0.05, "preprocess_image")
    portrait = preprocess_image(portrait_path, params)
    lap("preprocess_image")
    animator = PortraitAnimator(
        portrait, seed=params.seed, dynamic_scale=params.dynamic_scale, motion_scale=params.motion_scale
    )
    frames = animator.frames(analysis.drivers, analysis.first_frame, analysis.fps)
    height, width = portrait.image.shape[:2]
    if watermark:
        mark = Watermark(width, height)
        frames = (mark.apply(frame) for frame in frames)
    encoded = encode_video(
        frames,
        analysis,
        source,
        output_path,
        (width, height),
        poster_path=poster_path,
        progress=lambda fraction, stage: progress(0.05 + 0.95 * fraction, stage),
        should_cancel=should_cancel,
        metadata=AI_METADATA,
    )
    lap("animate_encode")
    return {
        "frames": encoded.frames,
        "width": width,
        "height": height,
        "audio_duration": analysis.duration,
        "faces_found": portrait.faces_found,
        "face_index": portrait.face_index,
    }
