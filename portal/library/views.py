import base64
import binascii

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import storage
from portal.errors import error_response, refusal_response
from portal.http import wants_json
from portal.library import scripts, usage
from portal.library.errors import UploadRejected
from portal.library.forms import VOICE_LABELS, ScriptForm
from portal.library.models import AudioClip, Portrait, Script, Upload
from portal.library.upload import receive
from portal.library.upload.store import delete_item
from portal.ownership import get_owned

TUS_VERSION = "1.0.0"
TUS_CONTENT_TYPE = "application/offset+octet-stream"


def _get_portrait_for_user(request, portrait_id) -> Portrait:
    return get_owned(Portrait, request.user, portrait_id)


def _get_audio_for_user(request, audio_id) -> AudioClip:
    return get_owned(AudioClip, request.user, audio_id)


def _get_upload_for_user(request, upload_id) -> Upload:
    return get_owned(Upload, request.user, upload_id)


def _get_script_for_user(request, script_id) -> Script:
    return get_owned(Script.objects.select_related("audio"), request.user, script_id)


@login_required
@require_GET
def index(request):
    context = {
        "portraits": Portrait.objects.filter(owner=request.user),
        "audio_clips": AudioClip.objects.filter(owner=request.user),
        "pending_uploads": Upload.objects.filter(owner=request.user).exclude(status=Upload.Status.READY),
        "pending_scripts": Script.objects.filter(owner=request.user).exclude(status=Script.Status.READY),
        "storage_used": request.user.storage_used_bytes,
        "storage_quota": usage.storage_quota_bytes(request.user),
    }
    return render(request, "library/index.html", context)


def _posted_whole(request, kind: str, what: str):
    """A file posted in one request by a form without JavaScript; `what` names the kind in the user's language."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise UploadRejected("no_file", _("Choose a file to upload."))
        received = receive.receive_whole(request.user, kind, upload)
    except UploadRejected as rejection:
        if wants_json(request):
            return refusal_response(request, rejection)
        messages.error(
            request,
            _("%(name)s: %(problem)s") % {"name": upload.name if upload else what, "problem": rejection.message},
            extra_tags=rejection.code,
        )
        return redirect("library:index")
    if wants_json(request):
        response = JsonResponse(_upload_state(received), status=202)
        response["Location"] = reverse("library:upload", args=[received.id])
        return response
    messages.info(
        request, _("Checking %(name)s; it appears in your library when it is ready.") % {"name": received.original_name}
    )
    return redirect("library:index")


@login_required
@require_POST
def upload_portrait(request):
    return _posted_whole(request, Upload.Kind.PORTRAIT, _("portrait"))


@login_required
@require_POST
def upload_audio(request):
    return _posted_whole(request, Upload.Kind.AUDIO, _("audio"))


# --- Uploads in parts: the tus protocol (tus.io, v1.0.0, with its creation and termination extensions) ---------
# The browser's tus-js-client sends 8 MiB parts and, after a dropped connection, asks where to go on (HEAD).


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    return response


def _tus_refusal(request, rejection: UploadRejected) -> HttpResponse:
    response = _tus(refusal_response(request, rejection))
    if isinstance(rejection, receive.PartsTooFast):
        response["Retry-After"] = str(rejection.retry_after)
    return response


def _upload_state(upload: Upload) -> dict:
    state = {
        "id": str(upload.id),
        "kind": upload.kind,
        "name": upload.original_name,
        "status": upload.status,
        "length": upload.length,
        "received": upload.received,
    }
    if upload.status == Upload.Status.REFUSED:
        state["error"] = upload.refusal()
    item_id = upload.portrait_id or upload.audio_id
    if item_id:
        state["item"] = str(item_id)
    return state


def _upload_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs."""
    metadata = {}
    for pair in filter(None, (item.strip() for item in header.split(","))):
        key, _space, value = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise UploadRejected("invalid_metadata", _("The upload's metadata could not be read.")) from None
    return metadata


def _header_int(request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit() or len(value) > 15:
        raise UploadRejected("invalid_header", _("The %(header)s header must be a whole number.") % {"header": name})
    return int(value)


@login_required
@require_http_methods(["OPTIONS", "POST"])
def uploads(request):
    if request.method == "OPTIONS":
        response = _tus(HttpResponse(status=204))
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = "creation,termination"
        response["Tus-Max-Size"] = str(settings.AUDIO_MAX_BYTES)
        return response
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        return _tus(error_response(request, "unsupported_version", _("Only tus 1.0.0 is supported."), 412))
    try:
        metadata = _upload_metadata(request.headers.get("Upload-Metadata", ""))
        upload = receive.start(
            request.user, metadata.get("kind", ""), metadata.get("filename", ""), _header_int(request, "Upload-Length")
        )
    except UploadRejected as rejection:
        return _tus_refusal(request, rejection)
    response = _tus(JsonResponse(_upload_state(upload), status=201))
    response["Location"] = reverse("library:upload", args=[upload.id])
    return response


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "PATCH", "DELETE"])
def upload(request, upload_id):
    upload = _get_upload_for_user(request, upload_id)
    if request.method == "GET":
        return JsonResponse(_upload_state(upload))
    if request.method == "HEAD":
        response = _tus(HttpResponse(status=200))
        response["Upload-Offset"] = str(upload.received)
        response["Upload-Length"] = str(upload.length)
        return response
    if request.method == "DELETE":
        if not receive.cancel(upload):
            message = _("The whole file has arrived; delete it from the library once it is there.")
            return _tus(error_response(request, "upload_arrived", message, 409))
        return _tus(HttpResponse(status=204))
    return _receive_part(request, upload)


def _receive_part(request, upload: Upload) -> HttpResponse:
    if request.content_type != TUS_CONTENT_TYPE:
        return _tus(HttpResponse(status=415))
    try:
        receive.count_part_request(upload)  # every PATCH counts, refused ones too
        offset = _header_int(request, "Upload-Offset")
        if "Content-Length" not in request.headers:
            raise UploadRejected("length_required", _("Send each part with its Content-Length."), status=411)
        part_length = _header_int(request, "Content-Length")
        if part_length > settings.UPLOAD_PART_MAX_BYTES:
            # Refused on the header: nothing of the body is read.
            raise UploadRejected(
                "part_too_large",
                _("A part may be at most %(limit)s bytes.") % {"limit": settings.UPLOAD_PART_MAX_BYTES},
                status=413,
            )
        new_offset = receive.receive(upload, offset, request, part_length)
    except UploadRejected as rejection:
        return _tus_refusal(request, rejection)
    except receive.OffsetMismatch as mismatch:
        message = _("This part does not start where the upload stopped; resume from the server's offset.")
        response = _tus(error_response(request, "offset_mismatch", message, 409))
        response["Upload-Offset"] = str(mismatch.offset)
        return response
    response = _tus(HttpResponse(status=204))
    response["Upload-Offset"] = str(new_offset)
    return response


@login_required
@require_POST
def dismiss_upload(request, upload_id):
    """Cancel an upload that stopped half-way, or clear a refusal once read (the form behind each)."""
    upload = _get_upload_for_user(request, upload_id)
    receive.cancel(upload)
    return redirect("library:index")


@login_required
@require_GET
def portrait_image(request, portrait_id):
    portrait = _get_portrait_for_user(request, portrait_id)
    return storage.serve(request, portrait.file.name, f"image/{portrait.image_format.lower()}")


@login_required
@require_GET
def portrait_thumbnail(request, portrait_id):
    portrait = _get_portrait_for_user(request, portrait_id)
    return storage.serve(request, portrait.thumbnail.name, "image/jpeg")


@login_required
@require_GET
def audio_file(request, audio_id):
    clip = _get_audio_for_user(request, audio_id)
    return storage.serve(request, clip.file.name, clip.content_type)


@login_required
@require_POST
def delete_portrait(request, portrait_id):
    portrait = _get_portrait_for_user(request, portrait_id)
    delete_item(portrait)
    messages.success(request, _("Deleted portrait %(name)s.") % {"name": portrait.original_name})
    return redirect("library:index")


@login_required
@require_POST
def delete_audio(request, audio_id):
    clip = _get_audio_for_user(request, audio_id)
    delete_item(clip)
    messages.success(request, _("Deleted audio %(name)s.") % {"name": clip.original_name})
    return redirect("library:index")


@login_required
def new_script(request):
    form = ScriptForm(request.POST or None)
    estimate = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "preflight":
                estimate = scripts.prepare(data["text"], data["voice"], data["rate"])
            else:
                script = scripts.start(request.user, data["title"], data["text"], data["voice"], data["rate"])
                return redirect("library:script", script_id=script.id)
        except scripts.ScriptRefused as refusal:
            form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
    return render(request, "library/new_script.html", {"form": form, "estimate": estimate})


@login_required
@require_GET
def script(request, script_id):
    found = _get_script_for_user(request, script_id)
    return render(request, "library/script.html", {"script": found, "voice_label": _voice_label(found.voice)})


def _voice_label(name: str) -> str:
    return str(VOICE_LABELS.get(name, name))


@login_required
@require_POST
def delete_script(request, script_id):
    """Forget a script that was refused (one that was said goes with its audio)."""
    scripts.delete(_get_script_for_user(request, script_id))
    return redirect("library:index")
