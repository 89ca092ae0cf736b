"""/api/v1/: the web portal's resources for scripts. Each view checks ownership through a _get_*_for_user helper
(404 for anyone else's id) and calls the same services as the web pages, so codes and limits are the same."""

from contextlib import contextmanager
from dataclasses import asdict

from django.db.models import Q
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

import renderer
from billing import quota
from billing.models import plan_for
from portal import storage
from portal.api import serializers as s
from portal.api.idempotency import idempotent
from portal.api.models import ApiKey
from portal.checkpoints import promotion
from portal.errors import Refusal
from portal.jobs import captions, services, webhooks
from portal.jobs.errors import JobRejected
from portal.jobs.models import Job
from portal.library import scripts, usage
from portal.library.errors import UploadRejected
from portal.library.forms import VOICE_LABELS
from portal.library.models import AudioClip, Portrait, Script, Upload
from portal.library.upload import receive, store
from portal.ownership import get_owned
from renderer import speech

ERRORS = {
    code: OpenApiResponse(s.ErrorSerializer, description=text)
    for code, text in {
        400: "Invalid request (code names the problem)",
        401: "No key, or the key is invalid, revoked or expired",
        403: "The plan does not allow it (api_not_in_plan, job_too_long, quota_exceeded, ...)",
        404: "No such object, or not yours",
        409: "The object is not in a state that allows it",
        413: "Too large (file_too_large, storage_quota_exceeded, request_too_large)",
        415: "Unsupported media type",
        422: "Idempotency-Key reused with a different request",
        429: "Rate limit or concurrent-jobs limit (Retry-After says when to retry)",
        503: "No worker offers the chosen backend right now",
    }.items()
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Retries with the same key and body return the first response (kept 24 hours) and never repeat "
    "the work.",
)


def _errors(*codes):
    return {code: ERRORS[code] for code in (400, 401, 403, 404, 429, *codes)}


def _get_portrait_for_user(request, portrait_id) -> Portrait:
    return get_owned(Portrait, request.user, portrait_id)


def _get_audio_for_user(request, audio_id) -> AudioClip:
    return get_owned(AudioClip, request.user, audio_id)


def _get_upload_for_user(request, upload_id) -> Upload:
    return get_owned(Upload.objects.select_related("portrait", "audio"), request.user, upload_id)


def _get_job_for_user(request, job_id) -> Job:
    return get_owned(Job.objects.select_related("portrait", "audio"), request.user, job_id)


def _get_script_for_user(request, script_id) -> Script:
    return get_owned(Script, request.user, script_id)


def _created(data, url_name: str, obj_id) -> Response:
    return Response(data, status=status.HTTP_201_CREATED, headers={"Location": reverse(url_name, args=[obj_id])})


# --- Account ------------------------------------------------------------------------------------------------
@extend_schema(
    tags=["account"],
    responses={200: s.MeSerializer, **_errors()},
    summary="Who the key acts for (also a cheap way to check a key)",
)
@api_view(["GET"])
def me(request):
    key = request.auth if isinstance(request.auth, ApiKey) else None
    return Response(
        {
            "id": request.user.pk,
            "email": request.user.email,
            "plan": plan_for(request.user).code,
            "api_key": {
                "name": key.name,
                "prefix": key.prefix,
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            }
            if key
            else None,
        }
    )


@extend_schema(
    tags=["account"],
    responses={200: s.UsageSerializer, **_errors()},
    summary="Plan, limits, render seconds used and left this period, storage used",
)
@api_view(["GET"])
def usage_view(request):
    summary = quota.usage_summary(request.user)
    plan = summary.pop("plan")
    request.user.refresh_from_db(fields=["storage_used_bytes"])
    return Response(
        s.UsageSerializer(
            {
                **summary,
                "plan": {**asdict(plan), "backends": list(plan.backends), "resolutions": list(plan.resolutions)},
                "storage_used_bytes": request.user.storage_used_bytes,
                "storage_quota_bytes": usage.storage_quota_bytes(request.user),
                "active_jobs": services.active_jobs(request.user),
            }
        ).data
    )


# --- Assets -------------------------------------------------------------------------------------------------
# A worker checks an upload within a second or two of its arrival for most files; a long lecture takes longer.
CHECK_POLL_SECONDS = 2


def _accepted_for_checking(request, kind: str) -> Response:
    """Store the file as it arrived and leave the decoding to a worker: a file that decodes for long (or never)
    costs this request nothing beyond its bytes."""
    file = request.FILES.get("file")
    if file is None:
        raise UploadRejected("no_file", _("Send the file as multipart/form-data in the field 'file'."), field="file")
    upload = receive.receive_whole(request.user, kind, file)
    return Response(
        s.UploadSerializer(upload).data,
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse("api:upload", args=[upload.id]), "Retry-After": str(CHECK_POLL_SECONDS)},
    )


@extend_schema(
    tags=["portraits"],
    methods=["GET"],
    operation_id="portraits_list",
    responses={200: s.PortraitSerializer(many=True), **_errors()},
    summary="Your portraits, newest first",
)
@extend_schema(
    tags=["portraits"],
    methods=["POST"],
    request={"multipart/form-data": s.UploadFileSerializer},
    parameters=[IDEMPOTENCY_KEY],
    responses={202: s.UploadSerializer, **_errors(413, 415, 422)},
    summary="Upload a portrait (JPEG, PNG or WebP): stored, then checked and its face searched by a "
    "worker; poll the upload at Location",
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser, FormParser])
@idempotent
def portraits(request):
    if request.method == "POST":
        return _accepted_for_checking(request, Upload.Kind.PORTRAIT)
    return Response(s.PortraitSerializer(Portrait.objects.filter(owner=request.user), many=True).data)


@extend_schema(
    tags=["portraits"],
    methods=["GET"],
    responses={200: s.PortraitSerializer, **_errors()},
    summary="One portrait, with its face box",
)
@extend_schema(
    tags=["portraits"],
    methods=["DELETE"],
    responses={204: None, **_errors()},
    summary="Delete a portrait (jobs made from it keep their videos)",
)
@api_view(["GET", "DELETE"])
def portrait(request, portrait_id):
    item = _get_portrait_for_user(request, portrait_id)
    if request.method == "DELETE":
        store.delete_item(item)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(s.PortraitSerializer(item).data)


@extend_schema(
    tags=["portraits"],
    responses={(200, "image/*"): OpenApiTypes.BINARY, **_errors()},
    summary="The portrait image as stored (metadata removed)",
)
@api_view(["GET"])
def portrait_image(request, portrait_id):
    item = _get_portrait_for_user(request, portrait_id)
    return storage.serve(request, item.file.name, f"image/{item.image_format.lower()}")


@extend_schema(
    tags=["portraits"],
    responses={(200, "image/jpeg"): OpenApiTypes.BINARY, **_errors()},
    summary="A JPEG thumbnail, at most 320 px",
)
@api_view(["GET"])
def portrait_thumbnail(request, portrait_id):
    item = _get_portrait_for_user(request, portrait_id)
    return storage.serve(request, item.thumbnail.name, "image/jpeg")


@extend_schema(
    tags=["audio"],
    methods=["GET"],
    operation_id="audio_list",
    responses={200: s.AudioSerializer(many=True), **_errors()},
    summary="Your audio clips, newest first",
)
@extend_schema(
    tags=["audio"],
    methods=["POST"],
    request={"multipart/form-data": s.UploadFileSerializer},
    parameters=[IDEMPOTENCY_KEY],
    responses={202: s.UploadSerializer, **_errors(413, 415, 422)},
    summary="Upload audio (WAV, MP3, M4A/AAC, Ogg/Opus, FLAC, WebM): stored, then decoded whole and "
    "measured by a worker; poll the upload at Location",
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser, FormParser])
@idempotent
def audio_clips(request):
    if request.method == "POST":
        return _accepted_for_checking(request, Upload.Kind.AUDIO)
    return Response(s.AudioSerializer(AudioClip.objects.filter(owner=request.user), many=True).data)


@extend_schema(
    tags=["audio"], methods=["GET"], responses={200: s.AudioSerializer, **_errors()}, summary="One audio clip"
)
@extend_schema(tags=["audio"], methods=["DELETE"], responses={204: None, **_errors()}, summary="Delete an audio clip")
@api_view(["GET", "DELETE"])
def audio_clip(request, audio_id):
    clip = _get_audio_for_user(request, audio_id)
    if request.method == "DELETE":
        store.delete_item(clip)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(s.AudioSerializer(clip).data)


@extend_schema(
    tags=["audio"],
    responses={(200, "audio/*"): OpenApiTypes.BINARY, **_errors()},
    summary="The audio file as uploaded (Range requests supported)",
)
@api_view(["GET"])
def audio_file(request, audio_id):
    clip = _get_audio_for_user(request, audio_id)
    return storage.serve(request, clip.file.name, clip.content_type)


@extend_schema(
    tags=["uploads"],
    parameters=[s.UploadFiltersSerializer],
    responses={200: s.UploadSerializer(many=True), **_errors()},
    summary="Your uploads of the last days, newest first: checking, ready or refused",
)
@api_view(["GET"])
def uploads_list(request):
    filters = s.UploadFiltersSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    found = Upload.objects.filter(owner=request.user).select_related("portrait", "audio")
    if "status" in filters.validated_data:
        found = found.filter(status=filters.validated_data["status"])
    return Response(s.UploadSerializer(found[:100], many=True).data)


@extend_schema(
    tags=["uploads"],
    methods=["GET"],
    responses={200: s.UploadSerializer, **_errors()},
    summary="One upload: checking (Retry-After says when to ask again), ready with its portrait or "
    "audio, or refused with the reason",
)
@extend_schema(
    tags=["uploads"],
    methods=["DELETE"],
    responses={204: None, **_errors(409)},
    summary="Dismiss a refused upload (a checking or ready one cannot be: delete the portrait or audio)",
)
@api_view(["GET", "DELETE"])
def upload(request, upload_id):
    found = _get_upload_for_user(request, upload_id)
    if request.method == "DELETE":
        if not receive.cancel(found):
            raise UploadRejected(
                "upload_arrived",
                _("The whole file has arrived; delete the portrait or audio once it is in the library."),
                status=409,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
    headers = {"Retry-After": str(CHECK_POLL_SECONDS)} if found.status == Upload.Status.CHECKING else {}
    return Response(s.UploadSerializer(found).data, headers=headers)


# --- Scripts and voices -------------------------------------------------------------------------------------
# Most scripts are said within a few seconds; a long lecture takes minutes.
SPEAK_POLL_SECONDS = 3


@extend_schema(
    tags=["scripts"],
    operation_id="voices_list",
    responses={200: s.VoiceSerializer(many=True), **_errors()},
    summary="The voices a script can be said in, and whether this server has each installed",
)
@api_view(["GET"])
def voices(request):
    return Response(
        s.VoiceSerializer(
            [
                {
                    "name": name,
                    "label": str(VOICE_LABELS.get(name, label)),
                    "language": speech.VOICES[name].language,
                    "installed": installed,
                }
                for name, label, installed in scripts.voice_choices()
            ],
            many=True,
        ).data
    )


def _script_request(request) -> dict:
    body = s.ScriptRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


@extend_schema(
    tags=["scripts"],
    methods=["GET"],
    operation_id="scripts_list",
    responses={200: s.ScriptSerializer(many=True), **_errors()},
    summary="Your scripts, newest first (the last 100)",
)
@extend_schema(
    tags=["scripts"],
    methods=["POST"],
    request=s.ScriptRequestSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={202: s.ScriptSerializer, **_errors(422)},
    summary="Have a script said: a worker speaks it into an audio clip with captions; poll it at Location, then "
    "render its audio",
)
@api_view(["GET", "POST"])
@parser_classes([JSONParser])
@idempotent
def scripts_list(request):
    if request.method == "POST":
        data = _script_request(request)
        script = scripts.start(request.user, data["title"], data["text"], data["voice"], data["rate"])
        return Response(
            s.ScriptSerializer(script).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api:script", args=[script.id]), "Retry-After": str(SPEAK_POLL_SECONDS)},
        )
    return Response(s.ScriptSerializer(Script.objects.filter(owner=request.user)[:100], many=True).data)


@extend_schema(
    tags=["scripts"],
    request=s.ScriptRequestSerializer,
    responses={200: s.ScriptPreflightSerializer, **_errors()},
    summary="Free pre-flight: how long the script takes to say and how many captions it makes; nothing is stored",
)
@api_view(["POST"])
@parser_classes([JSONParser])
def script_preflight(request):
    data = _script_request(request)
    prepared = scripts.prepare(data["text"], data["voice"], data["rate"])
    return Response(
        {
            "voice": prepared.voice.name,
            "rate": prepared.rate,
            "estimated_seconds": round(prepared.estimated_seconds, 1),
            "captions": len(prepared.units),
            "characters": len(prepared.text),
        }
    )


@extend_schema(
    tags=["scripts"],
    methods=["GET"],
    responses={200: s.ScriptSerializer, **_errors()},
    summary="One script: speaking (Retry-After says when to ask again), ready with its audio, or refused",
)
@extend_schema(
    tags=["scripts"],
    methods=["DELETE"],
    responses={204: None, **_errors()},
    summary="Delete a script and the audio it was said into (videos made from it keep theirs)",
)
@api_view(["GET", "DELETE"])
def script(request, script_id):
    found = _get_script_for_user(request, script_id)
    if request.method == "DELETE":
        scripts.delete(found)
        return Response(status=status.HTTP_204_NO_CONTENT)
    headers = {"Retry-After": str(SPEAK_POLL_SECONDS)} if found.status == Script.Status.SPEAKING else {}
    return Response(s.ScriptSerializer(found).data, headers=headers)


# --- Jobs ---------------------------------------------------------------------------------------------------
class JobCursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "limit"
    max_page_size = 100


def _job_request(request) -> tuple:
    body = s.JobRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    portrait, audio, options = body.inputs(request.user)
    return portrait, audio, options, body.validated_data["backend"], body.validated_data["title"]


@contextmanager
def _options_named_as_sent():
    """The services check render options once and name the parameter; the API names where it was sent."""
    try:
        yield
    except JobRejected as refusal:
        if refusal.field not in renderer.PARAMETER_NAMES:
            raise
        raise JobRejected(refusal.code, refusal.message, refusal.status, field=f"options.{refusal.field}") from None


@extend_schema(
    tags=["jobs"],
    methods=["GET"],
    operation_id="jobs_list",
    parameters=[s.JobFiltersSerializer],
    responses={200: s.JobPageSerializer, **_errors()},
    summary="Your jobs, newest first, filtered by status and creation time",
)
@extend_schema(
    tags=["jobs"],
    methods=["POST"],
    request=s.JobRequestSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={201: s.JobSerializer, **_errors(409, 422, 503)},
    summary="Render a video: reserves its render seconds and queues it",
)
@api_view(["GET", "POST"])
@parser_classes([JSONParser])
@idempotent
def jobs(request):
    if request.method == "POST":
        portrait, audio, options, backend, title = _job_request(request)
        with _options_named_as_sent():
            job = services.submit(request.user, portrait, audio, options, backend=backend, title=title)
        return _created(s.JobSerializer(job).data, "api:job", job.id)
    filters = s.JobFiltersSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    wanted = filters.validated_data
    found = Job.objects.filter(owner=request.user)
    conditions = Q()
    if "status" in wanted:
        conditions &= Q(status=wanted["status"])
    if "created_after" in wanted:
        conditions &= Q(created_at__gt=wanted["created_after"])
    if "created_before" in wanted:
        conditions &= Q(created_at__lt=wanted["created_before"])
    paginator = JobCursor()
    page = paginator.paginate_queryset(found.filter(conditions), request)
    return paginator.get_paginated_response(s.JobSerializer(page, many=True).data)


@extend_schema(
    tags=["jobs"],
    request=s.JobRequestSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: s.PreflightSerializer, **_errors(422)},
    summary="Free pre-flight: face, audio length, cost, and whether the job would be accepted",
)
@api_view(["POST"])
@parser_classes([JSONParser])
@idempotent
def preflight(request):
    portrait, audio, options, backend, _title = _job_request(request)
    with _options_named_as_sent():
        checked = services.preflight(request.user, portrait, audio, options, backend=backend)
    return Response(checked.as_dict())


@extend_schema(
    tags=["jobs"],
    methods=["GET"],
    responses={200: s.JobSerializer, **_errors()},
    summary="One job: status, stage, progress, errors, timings and a fresh signed download link",
)
@extend_schema(
    tags=["jobs"],
    methods=["DELETE"],
    responses={204: None, **_errors(409)},
    summary="Delete a job and its video (a queued job is canceled and refunded first)",
)
@extend_schema(
    tags=["jobs"],
    methods=["PATCH"],
    request=s.JobRenameSerializer,
    responses={200: s.JobSerializer, **_errors()},
    summary="Rename: the title shown in the portal and used as the downloaded file's name (empty: the audio's name)",
)
@api_view(["GET", "PATCH", "DELETE"])
@parser_classes([JSONParser])
def job(request, job_id):
    found = _get_job_for_user(request, job_id)
    if request.method == "PATCH":
        body = s.JobRenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(s.JobSerializer(services.rename(found, body.validated_data["title"])).data)
    if request.method == "DELETE":
        services.delete(found)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(s.JobSerializer(found).data)


@extend_schema(
    tags=["jobs"],
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: s.JobSerializer, **_errors(422)},
    summary="Cancel: a queued job ends at once, a rendering one at its next frame; its seconds are refunded",
)
@api_view(["POST"])
@idempotent
def cancel_job(request, job_id):
    return Response(s.JobSerializer(services.cancel(_get_job_for_user(request, job_id))).data)


@extend_schema(
    tags=["jobs"],
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={201: s.JobSerializer, **_errors(409, 422, 503)},
    summary="Render the same inputs and options again, as a new job",
)
@api_view(["POST"])
@idempotent
def rerun_job(request, job_id):
    new = services.rerun(_get_job_for_user(request, job_id))
    return _created(s.JobSerializer(new).data, "api:job", new.id)


@extend_schema(
    tags=["jobs"],
    methods=["PUT"],
    request=s.CaptionsRequestSerializer,
    responses={200: s.CaptionsSerializer, **_errors(409, 413)},
    summary="Replace the video's captions with a WebVTT or SubRip file's text (refused whole if it does not parse)",
)
@extend_schema(
    tags=["jobs"], methods=["DELETE"], responses={204: None, **_errors(409)}, summary="Remove the video's captions"
)
@api_view(["PUT", "DELETE"])
@parser_classes([JSONParser])
def job_captions(request, job_id):
    found = _get_job_for_user(request, job_id)
    if request.method == "DELETE":
        captions.remove(found)
        return Response(status=status.HTTP_204_NO_CONTENT)
    body = s.CaptionsRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    return Response(s.captions_state(captions.replace(found, body.validated_data["captions"])))


@extend_schema(
    tags=["jobs"],
    request=s.MakeCaptionsRequestSerializer,
    parameters=[IDEMPOTENCY_KEY],
    responses={202: s.CaptionsSerializer, **_errors(409, 422)},
    summary="Make captions from the video's English speech: your transcript timed to it, or the words recognised; "
    "poll the job until captions.status is no longer making",
)
@api_view(["POST"])
@parser_classes([JSONParser])
@idempotent
def make_job_captions(request, job_id):
    found = _get_job_for_user(request, job_id)
    body = s.MakeCaptionsRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    made = captions.request(found, body.validated_data["transcript"])
    return Response(
        s.captions_state(made),
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse("api:job", args=[found.id]), "Retry-After": str(SPEAK_POLL_SECONDS)},
    )


@extend_schema(
    tags=["jobs"],
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={202: s.CaptionsSerializer, **_errors(409, 422)},
    summary="Make a copy of the video with its captions drawn in (captions.burned_in_url once ready); changing the "
    "captions deletes the copy",
)
@api_view(["POST"])
@idempotent
def burn_in_job_captions(request, job_id):
    found = captions.request_burn_in(_get_job_for_user(request, job_id))
    return Response(
        s.captions_state(found),
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": reverse("api:job", args=[found.id]), "Retry-After": str(SPEAK_POLL_SECONDS)},
    )


@extend_schema(
    tags=["jobs"],
    responses={(200, "text/vtt"): OpenApiTypes.STR, (200, "application/x-subrip"): OpenApiTypes.STR, **_errors()},
    summary="The video's captions as WebVTT (vtt) or SubRip (srt)",
)
@api_view(["GET"])
def job_captions_file(request, job_id, file_format):
    found = captions.file_text(_get_job_for_user(request, job_id), file_format)
    if found is None:
        raise Http404("no captions")
    text, content_type = found
    return HttpResponse(text, content_type=content_type)


# --- Webhook ------------------------------------------------------------------------------------------------
def _webhook_body(endpoint, secret: bool = False) -> dict:
    if endpoint is None:
        return {"url": None, "created_at": None}
    body = s.WebhookSerializer({"url": endpoint.url, "created_at": endpoint.created_at}).data
    if secret:
        body["secret"] = endpoint.secret
    return body


@extend_schema(
    tags=["webhook"],
    methods=["GET"],
    responses={200: s.WebhookSerializer, **_errors()},
    summary="Where finished-job events are sent (url null: nowhere)",
)
@extend_schema(
    tags=["webhook"],
    methods=["PUT"],
    request=s.WebhookRequestSerializer,
    responses={200: s.WebhookSerializer, **_errors()},
    summary="Set the URL; a new webhook's signing secret is in the response, once",
)
@extend_schema(
    tags=["webhook"],
    methods=["DELETE"],
    responses={204: None, **_errors()},
    summary="Remove the webhook; pending deliveries are dropped",
)
@api_view(["GET", "PUT", "DELETE"])
@parser_classes([JSONParser])
def webhook(request):
    if request.method == "PUT":
        body = s.WebhookRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, created = webhooks.save_url(request.user, body.validated_data["url"].strip())
        return Response(_webhook_body(endpoint, secret=created))
    if request.method == "DELETE":
        webhooks.remove_endpoint(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
    return Response(_webhook_body(getattr(request.user, "webhook", None)))


@extend_schema(
    tags=["webhook"],
    request=None,
    parameters=[IDEMPOTENCY_KEY],
    responses={200: s.WebhookSerializer, **_errors(422)},
    summary="A new signing secret, in the response once; the old one stops signing at once",
)
@api_view(["POST"])
@idempotent
def rotate_webhook_secret(request):
    endpoint = webhooks.rotate_secret(request.user)
    if endpoint is None:
        raise Refusal("no_webhook", _("There is no webhook to rotate; set its URL first."), status=404)
    return Response(_webhook_body(endpoint, secret=True))


@extend_schema(
    tags=["webhook"],
    operation_id="webhook_deliveries_list",
    responses={200: s.WebhookDeliverySerializer(many=True), **_errors()},
    summary="The 50 most recent deliveries and their outcome",
)
@api_view(["GET"])
def webhook_deliveries(request):
    recent = request.user.webhook_deliveries.all()[:50]
    return Response(s.WebhookDeliverySerializer(recent, many=True).data)


# --- Checkpoints (the qualification pipeline's promote step) ------------------------------------------------
class MayPromoteCheckpoints(BasePermission):
    """Staff with the permission to add checkpoints (the pipeline's own account), whatever their plan."""

    message = "Only staff allowed to record checkpoints may promote one."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("checkpoints.add_checkpoint"))


@extend_schema(
    tags=["checkpoints"],
    request=s.CheckpointRequestSerializer,
    responses={201: s.CheckpointSerializer, 200: s.CheckpointSerializer, **_errors(409)},
    summary="Record weights that passed the quality gate (the qualification pipeline's promote step)",
)
@api_view(["POST"])
@parser_classes([JSONParser])
@permission_classes([MayPromoteCheckpoints])
def checkpoints(request):
    promoting = s.CheckpointRequestSerializer(data=request.data)
    promoting.is_valid(raise_exception=True)
    data = promoting.validated_data
    checkpoint, recorded = promotion.promote(
        backend=data["backend"],
        version=data["version"],
        digest=data["digest"],
        **data["figures"],
        report_url=data["report_url"],
        pipeline_run=data["pipeline_run"],
        by=request.user,
    )
    return Response(
        s.CheckpointSerializer(checkpoint).data, status=status.HTTP_201_CREATED if recorded else status.HTTP_200_OK
    )
