"""Sonic Portal's render engine: a portrait photo + an audio clip -> a lip-synced talking video (MP4).

Importable and runnable without Django. The public API:

    validate_params(dict) -> RenderParams          whitelisted options with defaults; RenderError on bad input
    RESOLUTIONS, MAX_RESOLUTION                    the only sizes rendered (the video's shorter side, in pixels)
    PARAMETER_NAMES                                the option names validate_params accepts
    render(portrait, audio, output, params, backend="builtin", *, start=0, end=None, poster_path=None,
           progress=None, should_cancel=None, loudness_reference_db=None) -> RenderResult
                                                   the whole audio, or the window [start, end) of it
    find_face(portrait, params) -> FaceCheck       the pre-flight face check, without rendering
    plan_segments(audio, max_seconds=60, fps=25) -> [Segment]   cut long audio at pauses, on frame boundaries
    plan_parts(audio, max_seconds=60, fps=25) -> PartPlan      the same, with the whole audio's loudness
                                                   reference to render every part with (loudness_reference_db=)
    concat([part.mp4, ...], output) -> JoinedVideo       join rendered parts without re-encoding video
    available_backends() -> {name: (available, reason)}
    BACKEND_NAMES                                  every backend the engine knows, available here or not
    checkpoint_digest(backend) -> "sha256:<hex>"   identifies the weights a backend renders with
    qualification_for(backend, version) -> dict | None  the quality gate's committed result for a renderer version
    timeline(**attributes) / stage(name, **attributes)  trace a caller's own stages beside the renderer's (spans)

Errors are RenderError subclasses with a stable `code` (no_face, silent_audio, backend_unavailable, ...) and
`retryable` telling whether the same job could succeed later. The command line: `python -m renderer --help`.

Names are loaded on first use: a process that only validates parameters or names queues (the web, the scheduler)
does not pay for loading torch and mediapipe.
"""

from importlib import import_module

__version__ = "1.0.0"

BACKEND_NAMES = ("builtin", "sonic")

_WHERE = {
    "FaceCheck": ".engine",
    "RenderResult": ".engine",
    "available_backends": ".engine",
    "checkpoint_digest": ".engine",
    "find_face": ".engine",
    "render": ".engine",
    "CanceledError": ".errors",
    "RenderError": ".errors",
    "RenderParams": ".params",
    "RESOLUTIONS": ".params",
    "MAX_RESOLUTION": ".params",
    "PARAMETER_NAMES": ".params",
    "validate_params": ".params",
    "qualification_for": ".qualify.gate",
    "JoinedVideo": ".segments",
    "PartPlan": ".segments",
    "plan_parts": ".segments",
    "Segment": ".segments",
    "concat": ".segments",
    "plan_segments": ".segments",
    "StageRecord": ".spans",
    "stage": ".spans",
    "timeline": ".spans",
}

__all__ = ["BACKEND_NAMES", *sorted(_WHERE)]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
