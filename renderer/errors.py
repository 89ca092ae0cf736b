"""Typed render errors with stable codes.

The portal shows `message` to the user and uses `code` to decide whether a job is worth retrying:
codes in PERMANENT_CODES describe the inputs, so retrying the same job can never succeed.
"""

from __future__ import annotations

PERMANENT_CODES = frozenset(
    {
        "invalid_parameter",
        "unknown_parameter",
        "no_face",
        "face_too_small",
        "face_not_frontal",
        "unreadable_image",
        "unreadable_audio",
        "silent_audio",
        "empty_audio",
        "backend_unavailable",
        "concat_incompatible",
        "no_speech_found",  # captions from speech: the same audio will not start speaking
        "transcript_mismatch",
        "canceled",  # the user asked to stop: running it again would undo that
    }
)


class RenderError(Exception):
    """A render failure the caller can show and classify by `code`."""

    code = "render_failed"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.field = field

    @property
    def retryable(self) -> bool:
        return self.code not in PERMANENT_CODES

    def as_dict(self) -> dict:
        payload = {"code": self.code, "message": self.message}
        if self.field:
            payload["field"] = self.field
        return payload

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ParameterError(RenderError):
    code = "invalid_parameter"


class UnknownParameterError(ParameterError):
    code = "unknown_parameter"


class NoFaceError(RenderError):
    code = "no_face"


class FaceTooSmallError(RenderError):
    code = "face_too_small"


class FaceNotFrontalError(RenderError):
    code = "face_not_frontal"


class UnreadableImageError(RenderError):
    code = "unreadable_image"


class UnreadableAudioError(RenderError):
    code = "unreadable_audio"


class EmptyAudioError(RenderError):
    code = "empty_audio"


class SilentAudioError(RenderError):
    code = "silent_audio"


class BackendUnavailableError(RenderError):
    code = "backend_unavailable"


class OutOfMemoryError(RenderError):
    code = "out_of_memory"


class CanceledError(RenderError):
    code = "canceled"


class ConcatError(RenderError):
    code = "concat_incompatible"
