"""The engine's entry points: render a portrait + audio into an MP4 with a chosen backend, or check a face."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import BACKEND_NAMES, spans
from .backends import builtin, sonic
from .errors import BackendUnavailableError, OutOfMemoryError, ParameterError
from .params import RenderParams, validate_params
from .stages import CancelCheck, ProgressCallback, preprocess_image

BACKENDS = {builtin.NAME: builtin, sonic.NAME: sonic}
assert tuple(BACKENDS) == BACKEND_NAMES, "renderer.BACKEND_NAMES names every backend, in this order"


@dataclass
class RenderResult:
    output_path: Path
    backend: str
    renderer_version: str
    frames: int
    width: int
    height: int
    fps: int
    video_duration: float
    audio_duration: float
    poster_path: Path | None
    faces_found: int
    face_index: int
    warnings: list[str] = field(default_factory=list)
    stages: list[spans.StageRecord] = field(default_factory=list)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage name, and the total."""
        seconds: dict[str, float] = {}
        for record in self.stages:
            seconds[record.name] = seconds.get(record.name, 0.0) + record.seconds
        seconds["total"] = sum(record.seconds for record in self.stages)
        return seconds

    def as_dict(self) -> dict:
        return {
            "output": str(self.output_path),
            "backend": self.backend,
            "renderer_version": self.renderer_version,
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "video_duration": round(self.video_duration, 4),
            "audio_duration": round(self.audio_duration, 4),
            "poster": str(self.poster_path) if self.poster_path else None,
            "faces_found": self.faces_found,
            "face_index": self.face_index,
            "warnings": self.warnings,
            "seconds": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
            "stages": [record.as_dict() for record in self.stages],
        }


@dataclass(frozen=True)
class FaceCheck:
    faces_found: int
    face_index: int
    warnings: list[str]
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # [left, top, right, bottom] of that face in the portrait's pixels


def available_backends() -> dict[str, tuple[bool, str]]:
    return {name: backend.availability() for name, backend in BACKENDS.items()}


def checkpoint_digest(backend: str) -> str:
    """ "sha256:<hex>" identifying the weights `backend` renders with (each backend module says what it covers);
    BackendUnavailableError when they are not here, ParameterError for an unknown backend."""
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}", field="backend")
    return BACKENDS[backend].checkpoint_digest()


def _backend(name: str):
    if name not in BACKENDS:
        raise ParameterError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}", field="backend")
    backend = BACKENDS[name]
    available, reason = backend.availability()
    if not available:
        raise BackendUnavailableError(f"the {name} backend is not available here: {reason}")
    return backend


def _face_warnings(faces_found: int, face_index: int) -> list[str]:
    if faces_found > 1:
        return [f"{faces_found} faces were found; face {face_index} (the largest unless face_index says) is animated"]
    return []


def find_face(portrait_path: str | Path, params: RenderParams | dict | None = None) -> FaceCheck:
    """The pre-flight face check: the same detection and limits as a render, without rendering."""
    prepared = preprocess_image(portrait_path, validate_params(params))
    return FaceCheck(
        prepared.faces_found,
        prepared.face_index,
        _face_warnings(prepared.faces_found, prepared.face_index),
        prepared.face_box,
    )


def render(
    portrait_path: str | Path,
    audio_path: str | Path,
    output_path: str | Path,
    params: RenderParams | dict | None = None,
    backend: str = "builtin",
    *,
    start: float = 0.0,
    end: float | None = None,
    poster_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    watermark: bool = False,
    loudness_reference_db: float | None = None,
) -> RenderResult:
    """Render [start, end) of the audio (the whole file by default) into output_path.

    The video's duration is the decoded audio's, to within one frame; a poster JPEG is written next to the
    output unless poster_path says where. watermark=True marks every frame (the Free plan); every output's
    metadata says it is AI-generated. A part of a longer audio passes the whole audio's loudness reference
    (plan_parts) so its mouth moves exactly as in a render of the whole. Raises RenderError subclasses with
    stable codes."""
    params = validate_params(params)
    chosen = _backend(backend)
    output_path = Path(output_path)
    poster = Path(poster_path) if poster_path else output_path.with_suffix(".poster.jpg")
    report = progress or (lambda fraction, stage: None)
    common = {
        "backend": chosen.NAME,
        "resolution": params.resolution,
        "fps": params.fps,
        "inference.steps": params.inference_steps,
        "dynamic.scale": params.dynamic_scale,
        "motion.scale": params.motion_scale,
    }
    with spans.tracer.start_as_current_span("render", attributes=common) as span, spans.timeline(**common) as records:
        first_stage = len(records)
        span.set_attributes({"audio.window.start_s": start, "renderer.version": chosen.VERSION})
        if end is not None:
            span.set_attribute("audio.window.end_s", end)
        if span.is_recording():  # hashing a long lecture per part costs real time; only when someone will look
            span.set_attributes(
                {"portrait.sha256": spans.file_sha256(portrait_path), "audio.sha256": spans.file_sha256(audio_path)}
            )
        try:
            facts = chosen.render(
                Path(portrait_path),
                Path(audio_path),
                output_path,
                params,
                start=start,
                end=end,
                poster_path=poster,
                progress=report,
                should_cancel=should_cancel,
                watermark=watermark,
                loudness_reference_db=loudness_reference_db,
            )
        except MemoryError as error:
            output_path.unlink(missing_ok=True)
            raise OutOfMemoryError("the render ran out of memory; try a lower resolution") from error
        except BaseException:
            output_path.unlink(missing_ok=True)
            poster.unlink(missing_ok=True)
            raise
        span.set_attributes({"frames": facts["frames"], "audio.duration_s": round(facts["audio_duration"], 4)})
        stages = records[first_stage:]
    report(1.0, "done")
    return RenderResult(
        output_path=output_path,
        backend=chosen.NAME,
        renderer_version=chosen.VERSION,
        frames=facts["frames"],
        width=facts["width"],
        height=facts["height"],
        fps=params.fps,
        video_duration=facts["frames"] / params.fps,
        audio_duration=facts["audio_duration"],
        poster_path=poster if poster.exists() else None,
        faces_found=facts["faces_found"],
        face_index=facts["face_index"],
        warnings=params.warnings + _face_warnings(facts["faces_found"], facts["face_index"]),
        stages=stages,
    )
