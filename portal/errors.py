import re

from django.http import JsonResponse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

# The one JSON error shape, for the API and every web view that answers JSON:
# {"error": {"code", "message", "field"?, ...extra, "request_id"}}.
NOT_FOUND_MESSAGE = _("No such object: it does not exist or is not yours.")


def request_id_of(request) -> str:
    return getattr(getattr(request, "_request", request), "request_id", "")


def error_body(request, code: str, message: str, field: str | None = None, **extra) -> dict:
    error = {"code": code, "message": str(message)}
    if field:
        error["field"] = field
    error.update(extra)
    error["request_id"] = request_id_of(request)
    return {"error": error}


def error_response(request, code: str, message: str, status: int, field: str | None = None, **extra) -> JsonResponse:
    """The error shape as a response, for the web views that answer JSON (the API's exception handler uses
    error_body the same way)."""
    return JsonResponse(error_body(request, code, message, field, **extra), status=status)


def refusal_response(request, refusal: "Refusal") -> JsonResponse:
    return error_response(request, refusal.code, refusal.message, refusal.status, refusal.field, **refusal.extra())


def server_error_body(request, support_code: str) -> dict:
    return error_body(
        request,
        "internal_error",
        gettext("Something went wrong on our side. Quote support code %(support_code)s if it happens again.")
        % {"support_code": support_code},
        support_code=support_code,
    )


class Refusal(Exception):
    """A request we refuse: `code` is stable (clients branch on it), `message` is for people, `status` is HTTP's.

    Raised during a request, `message` is already in the request's language (gettext); the code never changes."""

    default_status = 400

    def __init__(self, code: str, message: str | Promise, status: int | None = None, *, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, str(message), field
        self.status = status or self.default_status

    def as_dict(self) -> dict:
        payload = {"code": self.code, "message": self.message}
        if self.field:
            payload["field"] = self.field
        return payload

    def extra(self) -> dict:
        """What the error shape carries beside code, message and field for this kind of refusal."""
        return {}


# The renderer (Django-free, English only) explains its failures in words that name files and numbers; a job or a
# portrait keeps that English text. In another language the portal shows what the code means instead.
RENDER_ERROR_MESSAGES = {
    "render_failed": _("The video could not be rendered."),
    "invalid_parameter": _("A render option is out of its allowed range."),
    "unknown_parameter": _("A render option was not recognised."),
    "no_face": _("No face was found in the portrait; use a photo with one clearly visible face."),
    "face_too_small": _("The face in the portrait is too small to animate."),
    "face_not_frontal": _(
        "The face is turned or tilted too far to animate; use a photo where the head is upright "
        "and looks towards the camera."
    ),
    "unreadable_image": _("The portrait could not be read as an image."),
    "unreadable_audio": _("The audio could not be read."),
    "empty_audio": _("The audio contains no samples."),
    "silent_audio": _("The audio is silent: there is no speech to animate."),
    "backend_unavailable": _("This renderer is not available right now."),
    "out_of_memory": _("The render ran out of memory; try a lower resolution."),
    "canceled": _("The render was canceled."),
    "concat_incompatible": _("The parts of this video could not be joined."),
    "worker_lost": _("The computer rendering this video stopped answering."),
    "font_not_installed": _("This server has no font for these captions' characters; tell support."),
    "unreadable_video": _("The video could not be read to draw the captions into it."),
    "burn_in_failed": _("The captions could not be burned in; try again."),
    "queue_unavailable": _("The request could not be sent to a worker; try again."),
    "no_speech_found": _("No speech was heard in the video, so there is nothing to caption."),
    "transcript_mismatch": _(
        "The transcript does not match what is said in the video; check it, or leave it empty to recognise the words."
    ),
    "checkpoint_not_qualified": _(
        "No worker had a qualified model for this renderer; your render time was given back. Try again later."
    ),
}


def _source_language_active() -> bool:
    """English: the language the stored messages are written in."""
    return (translation.get_language() or "en").split("-")[0] == "en"


def shown_error(code: str, message: str) -> str:
    """A stored error (a job's, a portrait's face check) in the user's language.

    Messages the portal itself stores are catalogued word for word (gettext_noop where they are written); the
    renderer's detailed English stays in English, and in another language its code's meaning is shown."""
    if message:
        translated = gettext(message)
        if translated != message or _source_language_active():
            return translated
    return str(RENDER_ERROR_MESSAGES.get(code, message))


_SEVERAL_FACES = re.compile(r"^(\d+) faces were found; face (\d+) ")
_FEW_INFERENCE_STEPS = re.compile(r"^inference_steps=(\d+) is below (\d+)")


def shown_warning(warning: str) -> str:
    """One of the renderer's warnings (kept in English with a job) in the user's language."""
    if _source_language_active():
        return warning
    if several := _SEVERAL_FACES.match(warning):
        faces, index = int(several[1]), int(several[2])
        return ngettext(
            "%(faces)d face was found; face %(index)d is animated.",
            "%(faces)d faces were found; face %(index)d is animated.",
            faces,
        ) % {"faces": faces, "index": index}
    if few := _FEW_INFERENCE_STEPS.match(warning):
        return gettext(
            "%(steps)s inference steps are fewer than %(minimum)s: faster, but lower quality with the Sonic renderer."
        ) % {"steps": few[1], "minimum": few[2]}
    return gettext(warning)
