from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal import storage
from portal.http import wants_json
from portal.library import uploads, usage
from portal.library.errors import UploadRejected
from portal.library.models import AudioClip, Portrait


def _get_portrait_for_user(request, portrait_id) -> Portrait:
    return get_object_or_404(Portrait, id=portrait_id, owner=request.user)


def _get_audio_for_user(request, audio_id) -> AudioClip:
    return get_object_or_404(AudioClip, id=audio_id, owner=request.user)



@login_required
@require_GET
def index(request):
    context = {
        "portraits": Portrait.objects.filter(owner=request.user),
        "audio_clips": AudioClip.objects.filter(owner=request.user),
        "storage_used": request.user.storage_used_bytes,
        "storage_quota": usage.storage_quota_bytes(request.user),
    }
    return render(request, "library/index.html", context)


def _upload(request, add, what: str, added: str):
    """`what` names the kind of upload and `added` confirms one (a message with %(name)s), in the user's language."""
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise UploadRejected("no_file", _("Choose a file to upload."))
        item = add(request.user, upload)
    except UploadRejected as rejection:
        if wants_json(request):
            return JsonResponse({"error": rejection.as_dict()}, status=rejection.status)
        messages.error(request, _("%(name)s: %(problem)s") % {"name": upload.name if upload else what,
                                                              "problem": rejection.message}, extra_tags=rejection.code)
        return redirect("library:index")
    if wants_json(request):
        return JsonResponse({"id": str(item.id), "name": item.original_name}, status=201)
    messages.success(request, added % {"name": item.original_name})
    return redirect("library:index")


@login_required
@require_POST
def upload_portrait(request):
    return _upload(request, uploads.add_portrait, _("portrait"), _("Added portrait %(name)s."))


@login_required
@require_POST
def upload_audio(request):
    return _upload(request, uploads.add_audio, _("audio"), _("Added audio %(name)s."))


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
    portrait.delete()
    messages.success(request, _("Deleted portrait %(name)s.") % {"name": portrait.original_name})
    return redirect("library:index")


@login_required
@require_POST
def delete_audio(request, audio_id):
    clip = _get_audio_for_user(request, audio_id)
    clip.delete()
    messages.success(request, _("Deleted audio %(name)s.") % {"name": clip.original_name})
    return redirect("library:index")
