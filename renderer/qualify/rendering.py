"""One reference case, rendered as the portal would (long audio in parts, joined) and measured from its output file."""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import render
from ..errors import RenderError
from ..media import AudioReader
from ..segments import concat, plan_parts
from . import cases as qualify_cases
from . import gate as qualify_gate
from .measure import QualityReport, measure

FPS = 25  # every case renders at the product's default frame rate
CI_RESOLUTION = 256


@dataclass
class CaseResult:
    case: qualify_cases.Case
    output: Path | None
    input_seconds: float  # the input audio's decoded duration: what the video must last
    render_seconds: float = 0.0  # wall clock, every part and the join included
    measure_seconds: float = 0.0
    segments: int = 1
    report: QualityReport | None = None
    error: str | None = None  # a render that raised: "[code] message"
    failures: list[qualify_gate.Failure] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.case.name

    @property
    def rtf(self) -> float:
        return self.render_seconds / self.input_seconds if self.input_seconds else math.nan

    @property
    def metrics(self) -> dict:
        """The gated numbers, each in a unit that reads the same at any frame rate or resolution."""
        if self.report is None:
            return {}
        report, fps = self.report, self.report.fps or FPS
        expected_frames = max(1, math.ceil(self.input_seconds * FPS - 1e-6))
        return {
            "duration_error_frames": round((report.video_duration - self.input_seconds) * fps, 3),
            "audio_error_frames": round((report.audio_duration - self.input_seconds) * fps, 3),
            "frame_count_error": report.frames - expected_frames,
            "offset_frames": report.offset_frames,
            "correlation": round(report.correlation, 4),
            "mouth_closed_in_silence": round(report.mouth_closed_in_silence, 4),
            "blank_frames": report.blank_frames,
            "longest_frozen_seconds": round(report.longest_frozen_seconds, 3),
            "faces_missing": report.faces_missing,
            "identity_drift_mean": round(report.identity_drift_mean, 4),
            "identity_drift_max": round(report.identity_drift_max, 4),
            "jaw_follow": round(report.jaw_follow, 4),
            "jaw_ratio": round(report.jaw_ratio, 4),
            "shape_correlation": round(report.shape_correlation, 4),
            "width_range": round(report.width_range, 4),
            "interior_flat_share": round(report.interior_flat_share, 4),
            "rtf": round(self.rtf, 4),
        }

    @property
    def passed(self) -> bool:
        return self.error is None and not self.failures


def decoded_seconds(audio: Path) -> float:
    reader = AudioReader(audio)
    for _ in reader:
        pass
    return reader.duration


def render_case(case: qualify_cases.Case, backend: str, resolution: int, workdir: Path) -> CaseResult:
    """Make the case's inputs, render them (in parts when the case says so) and measure the output file."""
    inputs, videos = workdir / "inputs", workdir / "videos"
    inputs.mkdir(parents=True, exist_ok=True)
    videos.mkdir(parents=True, exist_ok=True)
    portrait, audio = case.portrait(inputs), case.audio(inputs)
    output = videos / f"{case.name}.mp4"
    result = CaseResult(case, output, decoded_seconds(audio))
    params = {"resolution": resolution, "fps": FPS, **case.params}
    started = time.perf_counter()
    try:
        if case.segment_seconds is None:
            render(portrait, audio, output, params, backend=backend)
        else:
            result.segments = _render_in_parts(
                portrait, audio, output, params, backend, case.segment_seconds, workdir / "parts" / case.name
            )
    except RenderError as error:
        result.error, result.output = f"[{error.code}] {error.message}", None
        return result
    except Exception as error:  # a model's own crash (CUDA, a bad checkpoint): this case fails, the suite goes on
        traceback.print_exc()
        result.error, result.output = f"[crashed] {type(error).__name__}: {error}", None
        return result
    finally:
        result.render_seconds = time.perf_counter() - started
    started = time.perf_counter()
    try:
        result.report = measure(output, reference_audio_duration=result.input_seconds)
    except Exception as error:  # an output file that cannot be measured fails its case
        traceback.print_exc()
        result.error = f"[unmeasurable] {type(error).__name__}: {error}"
    result.measure_seconds = time.perf_counter() - started
    return result


def _render_in_parts(
    portrait: Path, audio: Path, output: Path, params: dict, backend: str, max_seconds: float, parts_dir: Path
) -> int:
    parts_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_parts(audio, max_seconds=max_seconds, fps=params["fps"])
    parts = []
    for index, segment in enumerate(plan.segments):
        part = parts_dir / f"part-{index}.mp4"
        render(
            portrait,
            audio,
            part,
            params,
            backend=backend,
            start=segment.start,
            end=segment.end,
            loudness_reference_db=plan.loudness_reference_db,
        )
        parts.append(part)
    concat(parts, output)
    return len(plan.segments)
