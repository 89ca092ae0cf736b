"""Sonic Portal's render engine: a portrait photo + an audio clip -> a lip-synced talking video (MP4).

Importable and runnable without Django. The public API:

    validate_params(dict) -> RenderParams          whitelisted options with defaults; RenderError on bad input
    render(portrait, audio, output, params, backend="builtin", *, start=0, end=None, poster_path=None,
           progress=None, should_cancel=None) -> RenderResult
                                                   the whole audio, or the window [start, end) of it
    find_face(portrait, params) -> FaceCheck       the pre-flight face check, without rendering
    plan_segments(audio, max_seconds=60) -> [Segment]   cut long audio at pauses, on frame boundaries
    concat([part.mp4, ...], output) -> JoinedVideo       join rendered parts without re-encoding video
    available_backends() -> {name: (available, reason)}
    qualification_for(backend, version) -> dict | None  the quality gate's committed result for a renderer version
    timeline(**attributes) / stage(name, **attributes)  trace a caller's own stages beside the renderer's (spans)

Errors are RenderError subclasses with a stable `code` (no_face, silent_audio, backend_unavailable, ...) and
`retryable` telling whether the same job could succeed later. The command line: `python -m renderer --help`.
"""

from .engine import FaceCheck, RenderResult, available_backends, find_face, render
from .errors import CanceledError, RenderError
from .params import RenderParams, validate_params
from .qualify_gate import qualification_for
from .segments import JoinedVideo, Segment, concat, plan_segments
from .spans import StageRecord, stage, timeline

__version__ = "1.0.0"

__all__ = [
    "CanceledError",
    "FaceCheck",
    "JoinedVideo",
    "RenderError",
    "RenderParams",
    "RenderResult",
    "Segment",
    "StageRecord",
    "available_backends",
    "concat",
    "find_face",
    "plan_segments",
    "qualification_for",
    "render",
    "stage",
    "timeline",
    "validate_params",
]
