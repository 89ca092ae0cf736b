"""The built-in backend: mediapipe landmarks + the portrait animator + PyAV encoding. Runs anywhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from .. import checkpoints
from ..animator import PortraitAnimator
from ..errors import BackendUnavailableError
from ..params import RenderParams
from ..spans import stage
from ..stages import CancelCheck, ProgressCallback, analyse_audio, encode_video, load_audio, preprocess_image
from ..watermark import AI_METADATA, Watermark

NAME = "builtin"
VERSION = "builtin-2"
# The models this backend renders with, inside mediapipe's wheel (relative to the mediapipe package): the face
# mesh graph renderer/face.py runs (refine_landmarks=False), its short-range face detector and landmark model, and
# the full-range detector face.py falls back to for small faces.
MODEL_ASSETS = (
    "modules/face_landmark/face_landmark_front_cpu.binarypb",
    "modules/face_landmark/face_landmark.tflite",
    "modules/face_detection/face_detection_short_range.tflite",
    "modules/face_detection/face_detection_full_range_cpu.binarypb",
    "modules/face_detection/face_detection_full_range_sparse.tflite",
)


def availability() -> tuple[bool, str]:
    device = "CUDA" if torch.cuda.is_available() else "CPU"
    return True, f"always available (audio features on {device})"


def _mediapipe_dir() -> Path:
    """Where the mediapipe package lies, found without importing it (that loads its native graphs)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("mediapipe is not installed: the builtin backend needs its face models")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_digest() -> str:
    """ "sha256:<hex>" over VERSION and the content of the mediapipe models in MODEL_ASSETS: another mediapipe
    model (a wheel upgrade) or another VERSION gives another digest."""
    root = _mediapipe_dir()
    missing = [name for name in MODEL_ASSETS if not (root / name).is_file()]
    if missing:
        raise BackendUnavailableError(f"mediapipe's face models are missing under {root}: {', '.join(missing)}")
    return checkpoints.combine(
        ((name, (root / name).stat().st_size, checkpoints.file_sha256(root / name)) for name in MODEL_ASSETS),
        salt=VERSION,
    )


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
    watermark: bool,
    loudness_reference_db: float | None = None,
) -> dict:
    progress(0.0, "load_audio")
    with stage("load_audio") as running:
        source = load_audio(audio_path, start=start, end=end)
        running.event("audio opened", sample_rate=source.sample_rate, channels=source.channels)
    progress(0.02, "analyse_audio")
    with stage("analyse_audio") as running:
        analysis = analyse_audio(source, params.fps, loudness_reference_db)
        running.event("audio decoded", sample_rate=source.sample_rate)
        running.set(audio__duration_s=round(analysis.duration, 4), frames=analysis.frame_count)
    progress(0.05, "preprocess_image")
    with stage("preprocess_image") as running:
        portrait = preprocess_image(portrait_path, params)
        height, width = portrait.image.shape[:2]
        running.set(faces_found=portrait.faces_found, width=width, height=height)
    animator = PortraitAnimator(
        portrait, seed=params.seed, dynamic_scale=params.dynamic_scale, motion_scale=params.motion_scale
    )
    frames = animator.frames(analysis.drivers, analysis.first_frame, analysis.fps)
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
    return {
        "frames": encoded.frames,
        "width": width,
        "height": height,
        "audio_duration": analysis.duration,
        "faces_found": portrait.faces_found,
        "face_index": portrait.face_index,
    }
