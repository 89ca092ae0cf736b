"""What the API reads and writes. Output shapes are documented here (drf-spectacular reads them); inputs refuse
unknown fields, as the renderer's own parameters do, so a typo never falls back to a default silently."""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

import renderer
from billing.models import plan_for
from portal import storage
from portal.checkpoints.models import Checkpoint
from portal.errors import shown_error
from portal.jobs import captions, retention, services
from portal.jobs.models import TITLE_MAX_LENGTH, Job, WebhookDelivery
from portal.library import scripts
from portal.library.models import AudioClip, Portrait, Script, Upload
from renderer import speech
from renderer.captions import MAX_FILE_CHARACTERS as MAX_CAPTION_FILE_CHARACTERS
from renderer.speech import script as script_rules


def _api_url(name: str, *args) -> str:
    return settings.SITE_URL + reverse(name, args=args)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (code unknown_parameter, like the renderer's parameters)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"Unknown field; allowed: {', '.join(self.fields)}."]}, code="unknown_parameter"
                )
        return super().to_internal_value(data)


# --- Errors -------------------------------------------------------------------------------------------------
class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: branch on it (the same codes as the web pages).")
    message = serializers.CharField(help_text="For people; may change.")
    field = serializers.CharField(required=False, help_text="The request field at fault, when there is one.")
    upgrade_url = serializers.URLField(required=False, help_text="For plan limits: where to upgrade.")
    support_code = serializers.CharField(required=False, help_text="For server errors: quote it to support.")
    request_id = serializers.CharField(help_text="Also in the Request-Id header.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- Assets -------------------------------------------------------------------------------------------------
class UploadFileSerializer(serializers.Serializer):  # documents the request; a worker checks the file itself
    file = serializers.FileField(help_text="The file, as multipart/form-data.", allow_empty_file=True)


class FaceSerializer(serializers.Serializer):
    checked = serializers.BooleanField(help_text="False for portraits uploaded before faces were searched at upload.")
    faces_found = serializers.IntegerField(allow_null=True)
    box = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        min_length=4,
        max_length=4,
        help_text="[left, top, right, bottom] in image pixels of the face that is animated (the largest).",
    )
    error = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="{code, message} when the portrait cannot be animated (no_face, ...).",
    )


class PortraitSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    format = serializers.CharField(source="image_format")
    face = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Portrait
        fields = [
            "id",
            "name",
            "format",
            "width",
            "height",
            "size_bytes",
            "face",
            "image_url",
            "thumbnail_url",
            "created_at",
        ]

    @extend_schema_field(FaceSerializer)
    def get_face(self, portrait):
        return FaceSerializer(
            {
                "checked": portrait.face_checked,
                "faces_found": portrait.faces_found,
                "box": portrait.face_box,
                "error": {
                    "code": portrait.face_error_code,
                    "message": shown_error(portrait.face_error_code, portrait.face_error_message),
                }
                if portrait.face_error_code
                else None,
            }
        ).data

    def get_image_url(self, portrait) -> str:
        return _api_url("api:portrait_image", portrait.id)

    def get_thumbnail_url(self, portrait) -> str:
        return _api_url("api:portrait_thumbnail", portrait.id)


class AudioSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = AudioClip
        fields = [
            "id",
            "name",
            "duration_seconds",
            "sample_rate",
            "channels",
            "codec",
            "content_type",
            "size_bytes",
            "file_url",
            "created_at",
        ]

    def get_file_url(self, clip) -> str:
        return _api_url("api:audio_file", clip.id)


class UploadErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: the same codes as a refused upload on the web pages.")
    message = serializers.CharField(help_text="For people, in the uploader's language.")


class UploadSerializer(serializers.ModelSerializer):
    """A file on its way into the library: stored at once, then decoded and measured by a worker."""

    name = serializers.CharField(source="original_name")
    size_bytes = serializers.IntegerField(source="length", help_text="The file's size as sent.")
    status = serializers.ChoiceField(
        choices=Upload.Status.values,
        help_text="checking: a worker is decoding it (poll this upload; Retry-After says when); ready: it is in the "
        "library as `portrait` or `audio`; refused: `error` says why and nothing of it is kept. receiving: a "
        "browser upload still arriving in parts.",
    )
    error = serializers.SerializerMethodField()
    portrait = PortraitSerializer(allow_null=True, help_text="Once ready, for a portrait.")
    audio = AudioSerializer(allow_null=True, help_text="Once ready, for audio.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "kind",
            "name",
            "size_bytes",
            "status",
            "error",
            "portrait",
            "audio",
            "url",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(UploadErrorSerializer(allow_null=True))
    def get_error(self, upload):
        return upload.refusal()

    def get_url(self, upload) -> str:
        return _api_url("api:upload", upload.id)


# --- Scripts and voices ---------------------------------------------------------------------------------------
class VoiceSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="What POST /api/v1/scripts/ takes as voice.")
    label = serializers.CharField()
    language = serializers.CharField(help_text="BCP 47: the language it speaks and its captions are in.")
    installed = serializers.BooleanField(help_text="Whether this server can speak with it now.")


class ScriptRequestSerializer(StrictSerializer):
    text = serializers.CharField(
        trim_whitespace=False,
        max_length=script_rules.MAX_CHARACTERS,
        help_text="What the voice says. A blank line pauses 0.9 s, two or more 1.8 s; each sentence is a caption.",
    )
    voice = serializers.CharField(default=speech.DEFAULT_VOICE, help_text="A name from GET /api/v1/voices/.")
    rate = serializers.FloatField(
        default=1.0,
        help_text=f"Speaking rate, {script_rules.MIN_RATE} to {script_rules.MAX_RATE}; 1 is the voice's own.",
    )
    title = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=scripts.TITLE_MAX_LENGTH,
        help_text="The audio's name in the library; empty: the first words.",
    )


class ScriptPreflightSerializer(serializers.Serializer):
    voice = serializers.CharField()
    rate = serializers.FloatField()
    estimated_seconds = serializers.FloatField(help_text="About how long it will take to say (what a video costs).")
    captions = serializers.IntegerField(help_text="How many captions it becomes.")
    characters = serializers.IntegerField()


class ScriptSerializer(serializers.ModelSerializer):
    audio = serializers.UUIDField(
        source="audio_id", allow_null=True, help_text="Once ready: the audio id to render with POST /api/v1/jobs/."
    )
    error = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Script
        fields = ["id", "title", "status", "voice", "rate", "estimated_seconds", "audio", "error", "url", "created_at"]

    def get_error(self, script) -> dict[str, str] | None:
        if not script.error_code:
            return None
        return {"code": script.error_code, "message": shown_error(script.error_code, script.error_message)}

    def get_url(self, script) -> str:
        return _api_url("api:script", script.id)


# --- Jobs ---------------------------------------------------------------------------------------------------
class RenderOptionsSerializer(StrictSerializer):
    """The options the web form offers; ranges are the renderer's (refused with code invalid_parameter)."""

    # Which sizes exist is the renderer's rule (invalid_parameter), which the plan allows is billing's
    # (resolution_not_in_plan): neither is repeated here.
    resolution = serializers.IntegerField(
        required=False,
        help_text=f"The video's shorter side in pixels: one of {', '.join(map(str, renderer.RESOLUTIONS))}, up to the "
        "plan's maximum (GET /api/v1/usage/ lists the plan's sizes).",
    )
    dynamic_scale = serializers.FloatField(required=False, help_text="Mouth motion: 0.5 (subtle) to 2.0 (strong).")
    motion_scale = serializers.FloatField(required=False, help_text="Head motion: 0 (still) to 2.0.")
    expand_ratio = serializers.FloatField(required=False, help_text="Space around the face, 0 to 1.")
    crop_face = serializers.BooleanField(required=False, help_text="Crop around the face (default true).")
    seed = serializers.IntegerField(required=False, help_text="Same seed, same blinks and head motion.")


class JobRequestSerializer(StrictSerializer):
    portrait = serializers.UUIDField(help_text="A portrait id from POST /api/v1/portraits/.")
    audio = serializers.UUIDField(help_text="An audio id from POST /api/v1/audio/.")
    backend = serializers.ChoiceField(
        choices=renderer.BACKEND_NAMES,
        default=services.DEFAULT_BACKEND,
        help_text="Which renderer; the plan and this server decide which are offered.",
    )
    options = RenderOptionsSerializer(required=False, default=dict)
    title = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=TITLE_MAX_LENGTH,
        help_text="The video's name: on its page and in the downloaded file's name. Empty: the audio's file name.",
    )

    def inputs(self, user):
        """The owner's portrait and audio (None for an id that is not theirs: the services refuse it)."""
        data = self.validated_data
        portrait = Portrait.objects.filter(owner=user, id=data["portrait"]).first()
        audio = AudioClip.objects.filter(owner=user, id=data["audio"]).first()
        return portrait, audio, dict(data["options"])


class JobRenameSerializer(StrictSerializer):
    # The length and white space are the service's rule (portal/jobs/services.py rename), the same for the web.
    title = serializers.CharField(allow_blank=True, trim_whitespace=False)


class PreflightSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether a job with these inputs would be accepted now.")
    refusal = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="{code, message} of what would refuse it (plan limits, quota, ...).",
    )
    upgrade_would_help = serializers.BooleanField(
        help_text="The refusal is a limit of your plan that a bigger plan raises (length, resolution, quota, ...)."
    )
    params = serializers.DictField(help_text="The render parameters, defaults filled in.")
    audio_duration_seconds = serializers.FloatField()
    quota_seconds = serializers.IntegerField(help_text="What the job would cost, in render seconds.")
    remaining_seconds = serializers.IntegerField(help_text="Render seconds left this period.")
    faces_found = serializers.IntegerField(allow_null=True)
    face_error = serializers.DictField(child=serializers.CharField(), allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


class DownloadSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Signed link to the MP4; works without a key until expires_at.")
    poster_url = serializers.URLField(allow_null=True, help_text="Signed link to the poster JPEG.")
    expires_at = serializers.DateTimeField()


class CaptionsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many captions the video has (0: none).")
    source = serializers.ChoiceField(
        choices=["", "script", "aligned", "recognised", "edited"],
        help_text="script: timed by the voice; aligned: your transcript timed to the speech; recognised: words heard "
        "in the speech; edited: sent by you; empty: none.",
    )
    language = serializers.CharField(help_text="BCP 47; empty when not known.")
    status = serializers.ChoiceField(
        choices=["", "making", "failed"], help_text="making: a worker is listening to the video (poll the job)."
    )
    error = serializers.DictField(child=serializers.CharField(), allow_null=True)
    vtt_url = serializers.URLField(allow_null=True, help_text="WebVTT, with your key; null when there are none.")
    srt_url = serializers.URLField(allow_null=True, help_text="SubRip, with your key.")
    burned_in = serializers.ChoiceField(
        choices=["", "burning", "failed", "ready"],
        help_text="The copy of the video with the captions drawn in: ready (burned_in_url), burning, failed, or none.",
    )
    burned_in_url = serializers.URLField(allow_null=True, help_text="Signed link to that MP4, like download.url.")


class CaptionsRequestSerializer(StrictSerializer):
    captions = serializers.CharField(
        trim_whitespace=False,
        max_length=MAX_CAPTION_FILE_CHARACTERS,
        help_text="A whole WebVTT or SubRip file's text; refused whole (captions_invalid) if it does not parse.",
    )


class MakeCaptionsRequestSerializer(StrictSerializer):
    transcript = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text="What is said, in English: the captions use these words, timed to the speech. Empty: recognised.",
    )


def captions_state(job) -> dict:
    has = bool(job.captions)
    return {
        "count": len(job.captions),
        "source": job.captions_source,
        "language": job.captions_language,
        "status": "making" if captions.is_making(job) else ("failed" if job.captions_status == "failed" else ""),
        "error": {
            "code": job.captions_error_code,
            "message": shown_error(job.captions_error_code, job.captions_error_message),
        }
        if job.captions_status == "failed" and job.captions_error_code
        else None,
        "vtt_url": _api_url("api:job_captions_file", job.id, "vtt") if has else None,
        "srt_url": _api_url("api:job_captions_file", job.id, "srt") if has else None,
        "burned_in": "ready" if job.burned_in else _burned_in_state(job),
        "burned_in_url": storage.download_link(job, job.burned_in.name) if job.burned_in else None,
    }


def _burned_in_state(job) -> str:
    if captions.is_burning(job):
        return "burning"
    return "failed" if job.burned_in_status == "failed" else ""


class JobSerializer(serializers.ModelSerializer):
    portrait = serializers.UUIDField(
        source="portrait_id", allow_null=True, help_text="Null once the portrait is deleted from the library."
    )
    audio = serializers.UUIDField(source="audio_id", allow_null=True)
    options = serializers.JSONField(source="params")
    error = serializers.SerializerMethodField()
    support_code = serializers.CharField()
    queue_wait_seconds = serializers.FloatField(allow_null=True)
    render_seconds = serializers.FloatField(allow_null=True)
    download = serializers.SerializerMethodField()
    captions = serializers.SerializerMethodField()
    expires_at = serializers.SerializerMethodField(help_text="When the video is deleted (the plan's retention).")
    title = serializers.CharField(
        source="display_title",
        read_only=True,
        help_text="The title given, else the audio's file name without its extension.",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "title",
            "status",
            "stage",
            "progress",
            "backend",
            "portrait",
            "audio",
            "options",
            "error",
            "warnings",
            "support_code",
            "trace_id",
            "audio_duration_seconds",
            "quota_seconds",
            "output_duration_seconds",
            "queue_wait_seconds",
            "render_seconds",
            "faces_found",
            "segment_count",
            "created_at",
            "started_at",
            "finished_at",
            "expires_at",
            "download",
            "captions",
        ]

    def get_error(self, job) -> dict[str, str] | None:
        if not job.error_code:
            return None
        return {"code": job.error_code, "message": shown_error(job.error_code, job.error_message)}

    @extend_schema_field(DownloadSerializer(allow_null=True))
    def get_download(self, job):
        if job.status != Job.Status.SUCCEEDED or not job.output:
            return None
        return DownloadSerializer(
            {
                "url": storage.download_link(job, job.output.name),
                "poster_url": storage.download_link(job, job.poster.name) if job.poster else None,
                "expires_at": timezone.now() + timedelta(seconds=settings.DOWNLOAD_LINK_SECONDS),
            }
        ).data

    @extend_schema_field(CaptionsSerializer)
    def get_captions(self, job):
        return CaptionsSerializer(captions_state(job)).data

    def get_expires_at(self, job) -> str | None:
        if job.status != Job.Status.SUCCEEDED:
            return None
        days = self.context.setdefault("retention_days", {})  # one plan lookup per owner, not per listed job
        if job.owner_id not in days:
            days[job.owner_id] = plan_for(job.owner).retention_days
        when = retention.expires_at(job, retention_days=days[job.owner_id])
        return serializers.DateTimeField().to_representation(when)


class JobPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page; null on the last one.")
    previous = serializers.URLField(allow_null=True)
    results = JobSerializer(many=True)


class UploadFiltersSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Upload.Status.values, required=False)


class JobFiltersSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Job.Status.values, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601, e.g. 2026-12-01T00:00:00Z.")
    created_before = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False, help_text="From the previous page's next or previous link.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, help_text="Jobs per page (20).")


# --- Usage --------------------------------------------------------------------------------------------------
class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    monthly_render_seconds = serializers.IntegerField()
    max_job_seconds = serializers.IntegerField()
    max_resolution = serializers.IntegerField()
    resolutions = serializers.ListField(child=serializers.IntegerField(), help_text="The sizes this plan renders.")
    concurrent_jobs = serializers.IntegerField()
    storage_bytes = serializers.IntegerField()
    retention_days = serializers.IntegerField()
    api_access = serializers.BooleanField()
    api_requests_per_minute = serializers.IntegerField()
    watermark = serializers.BooleanField()
    backends = serializers.ListField(child=serializers.CharField())


class UsageSerializer(serializers.Serializer):
    plan = PlanSerializer()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    allowance_seconds = serializers.IntegerField(help_text="The plan's seconds plus any granted by support.")
    used_seconds = serializers.IntegerField()
    reserved_seconds = serializers.IntegerField(help_text="Held by jobs queued or rendering now.")
    remaining_seconds = serializers.IntegerField()
    storage_used_bytes = serializers.IntegerField()
    storage_quota_bytes = serializers.IntegerField()
    active_jobs = serializers.IntegerField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    plan = serializers.CharField()
    api_key = serializers.DictField(allow_null=True, help_text="{name, prefix, expires_at} of the key used.")


# --- Webhook ------------------------------------------------------------------------------------------------
class WebhookRequestSerializer(StrictSerializer):
    url = serializers.CharField(max_length=500, help_text="https:// URL that receives signed job events.")


class WebhookSerializer(serializers.Serializer):
    url = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    secret = serializers.CharField(
        required=False,
        help_text="Only when it is new (set or rotated): keep it; it "
        "signs the Sonic-Signature header and is not shown again.",
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "job",
            "url",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "created_at",
            "finished_at",
        ]


# --- Checkpoints (the qualification pipeline's promote step) ------------------------------------------------
class CheckpointFiguresSerializer(StrictSerializer):
    cases_passed = serializers.IntegerField(min_value=0)
    cases_total = serializers.IntegerField(min_value=0)
    duration_error_ms = serializers.FloatField(
        required=False, allow_null=True, help_text="Worst |video − audio duration| over the cases."
    )
    offset_frames = serializers.FloatField(required=False, allow_null=True, help_text="Worst A/V offset.")
    sync_correlation = serializers.FloatField(
        required=False, allow_null=True, help_text="Lowest mouth-vs-audio correlation."
    )


class CheckpointRequestSerializer(StrictSerializer):
    backend = serializers.ChoiceField(choices=renderer.BACKEND_NAMES)
    version = serializers.CharField(max_length=64, help_text="The backend's VERSION the gate ran.")
    digest = serializers.CharField(max_length=80, help_text="renderer.checkpoint_digest of the weights.")
    figures = CheckpointFiguresSerializer()
    report_url = serializers.URLField(required=False, default="", allow_blank=True, max_length=500)
    pipeline_run = serializers.CharField(required=False, default="", allow_blank=True, max_length=200)


class CheckpointSerializer(serializers.ModelSerializer):
    serves = serializers.BooleanField(read_only=True, help_text="False once withdrawn.")

    class Meta:
        model = Checkpoint
        fields = [
            "backend",
            "version",
            "digest",
            "source",
            "cases_passed",
            "cases_total",
            "duration_error_ms",
            "offset_frames",
            "sync_correlation",
            "report_url",
            "pipeline_run",
            "promoted_at",
            "serves",
        ]
