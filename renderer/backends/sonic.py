"""Adapter for the Sonic model (github.com/jixiaozhong/Sonic, CC BY-NC-SA 4.0: non-commercial use only).

It drives the official inference code from a local checkout (SONIC_HOME) with its checkpoints
(SONIC_CHECKPOINTS, default SONIC_HOME/checkpoints) on a CUDA GPU. Sonic muxes audio with an ffmpeg shell
command; we keep its silent video instead and mux the audio with PyAV, so nothing is cut (-shortest) and no
shell is involved. availability() says why it cannot run before any job is accepted for it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

import cv2

from .. import checkpoints
from ..errors import BackendUnavailableError, NoFaceError, RenderError
from ..media import extract_frame, mux_with_audio, write_audio_window
from ..params import RenderParams
from ..spans import stage
from ..watermark import AI_METADATA, Watermark

NAME = "sonic"
VERSION = "sonic-cvpr2025"
CHECKPOINT_FILES = (
    "Sonic/unet.pth",
    "Sonic/audio2token.pth",
    "Sonic/audio2bucket.pth",
    "stable-video-diffusion-img2vid-xt",
    "whisper-tiny",
    "RIFE/flownet.pkl",
    "yoloface_v5m.pt",
)
PYTHON_PACKAGES = ("diffusers", "transformers", "omegaconf", "einops", "librosa")

_model = None
_model_lock = threading.Lock()


def _home() -> Path | None:
    home = os.environ.get("SONIC_HOME")
    return Path(home) if home else None


def _checkpoints(home: Path) -> Path:
    return Path(os.environ.get("SONIC_CHECKPOINTS", home / "checkpoints"))


def checkpoint_digest() -> str:
    """ "sha256:<hex>" over the content of every checkpoint file the backend loads (CHECKPOINT_FILES; a directory
    counts every file below it), so a run or a job can say which weights made it. Hashing 15 GB takes minutes:
    each file's hash is cached by (path, size, mtime_ns) (renderer/checkpoints.py), so a restart re-hashes only
    what changed. BackendUnavailableError names what is missing."""
    home = _home()
    if os.environ.get("SONIC_CHECKPOINTS"):
        root = Path(os.environ["SONIC_CHECKPOINTS"])
    elif home is not None:
        root = _checkpoints(home)
    else:
        raise BackendUnavailableError("no Sonic checkpoints: set SONIC_HOME (or SONIC_CHECKPOINTS) to find them")
    files, missing = [], []
    for name in CHECKPOINT_FILES:
        found = checkpoints.tree_files(root, name) if (root / name).exists() else []
        if not found:
            missing.append(name)
        files += found
    if missing:
        raise BackendUnavailableError(f"missing checkpoint files under {root}: {', '.join(missing)}")
    cache = checkpoints.HashCache()
    try:
        entries = [(file.relative_to(root).as_posix(), file.stat().st_size, cache.sha256(file)) for file in files]
    except OSError as error:
        raise BackendUnavailableError(f"cannot read the Sonic checkpoint {error.filename}: {error.strerror}") from error
    finally:
        cache.save()
    return checkpoints.combine(entries)


def availability() -> tuple[bool, str]:
    """Everything that keeps Sonic from running here, so one look tells an operator all that is missing."""
    import torch

    problems = []
    if not torch.cuda.is_available():
        problems.append("no CUDA GPU on this machine (Sonic needs one with 24 GB or more)")
    home = _home()
    if home is None or not (home / "sonic.py").is_file():
        problems.append("no Sonic checkout: set SONIC_HOME to a clone of github.com/jixiaozhong/Sonic")
    else:
        missing = [name for name in CHECKPOINT_FILES if not (_checkpoints(home) / name).exists()]
        if missing:
            problems.append(f"missing checkpoint files under {_checkpoints(home)}: {', '.join(missing)}")
    packages = [name for name in PYTHON_PACKAGES if importlib.util.find_spec(name) is None]
    if packages:
        problems.append(f"missing Python packages: {', '.join(packages)}")
    if problems:
        return False, "; ".join(problems)
    return True, f"Sonic checkout at {home} on {torch.cuda.get_device_name(0)}"


def _load():
    """One model per worker process: loading takes minutes."""
    global _model
    with _model_lock:
        if _model is None:
            home = _home()
            if home is None:
                raise BackendUnavailableError(
                    "no Sonic checkout: set SONIC_HOME to a clone of github.com/jixiaozhong/Sonic"
                )
            sys.path.insert(0, str(home))
            previous = os.getcwd()
            os.chdir(home)  # the official code reads its config and checkpoints relative to the checkout
            try:
                import sonic as official

                _model = official.Sonic(device_id=int(os.environ.get("SONIC_DEVICE_ID", "0")))
            finally:
                os.chdir(previous)
    return _model


class _NoShell:
    """Sonic's process() ends with os.system("ffmpeg ..."); we mux ourselves, so that call does nothing."""

    def __enter__(self):
        self.original = os.system
        os.system = lambda command: 0
        return self

    def __exit__(self, *exc):
        os.system = self.original


def render(
    portrait_path: Path,
    audio_path: Path,
    output_path: Path,
    params: RenderParams,
    *,
    start: float,
    end: float | None,
    poster_path: Path | None,
    progress,
    should_cancel,
    watermark: bool,
    loudness_reference_db: float | None = None,
) -> dict:
    # Sonic's model reads the audio itself; loudness_reference_db (for the builtin animator's mouth) does not apply.
    available, reason = availability()
    if not available:
        raise BackendUnavailableError(reason)
    model = _load()
    with tempfile.TemporaryDirectory(prefix="sonic-") as workdir:
        work = Path(workdir)
        with stage("load_audio") as running:
            audio = write_audio_window(audio_path, work / "audio.wav", start=start, end=end)
            running.set(audio__duration_s=round(audio.duration, 4))
        progress(0.02, "preprocess_image")
        with stage("preprocess_image") as running:
            info = model.preprocess(str(portrait_path), expand_ratio=params.expand_ratio)
            if info.get("face_num", 0) <= 0:
                raise NoFaceError("no face was found in the portrait; use a photo with one clearly visible face")
            running.set(faces_found=int(info["face_num"]))
            image = portrait_path
            if params.crop_face:
                x0, y0, x1, y1 = (int(v) for v in info["crop_bbox"])
                crop = cv2.imread(str(portrait_path))[y0:y1, x0:x1]
                image = work / "crop.png"
                cv2.imwrite(str(image), crop)
        if should_cancel is not None and should_cancel():
            from ..errors import CanceledError

            raise CanceledError("the render was canceled")
        progress(0.05, "run_inference")
        silent_target = work / "sonic.mp4"
        with stage("run_inference"), _NoShell():
            status = model.process(
                str(image),
                str(audio.path),
                str(silent_target),
                min_resolution=params.resolution,
                inference_steps=params.inference_steps,
                dynamic_scale=params.dynamic_scale,
                keep_resolution=not params.crop_face,
                seed=params.seed,
            )
        silent = work / "sonic_noaudio.mp4"
        if status != 0 or not silent.exists():
            raise RenderError("Sonic produced no video for these inputs", code="no_face")
        progress(0.95, "encode_video")
        with stage("encode_video") as running:
            overlay = _lazy_watermark() if watermark else None
            muxed = mux_with_audio(
                silent, audio.path, output_path, fps=params.fps, metadata=AI_METADATA, overlay=overlay
            )
            if poster_path is not None:
                extract_frame(output_path, poster_path, at_seconds=min(1.0, audio.duration / 2))
            running.set(frames=muxed.frames, width=muxed.width, height=muxed.height)
    return {
        "frames": muxed.frames,
        "width": muxed.width,
        "height": muxed.height,
        "audio_duration": audio.duration,
        "faces_found": int(info["face_num"]),
        "face_index": 0,
    }


def _lazy_watermark():
    """An overlay that sizes itself on the first frame it sees."""
    marks: dict[tuple[int, int], Watermark] = {}

    def apply(frame):
        size = (frame.shape[1], frame.shape[0])
        if size not in marks:
            marks[size] = Watermark(*size)
        return marks[size].apply(frame)

    return apply
