import re
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# What a job's owner reads for each stage the worker reports (Job.stage keeps the worker's own names for support).
STAGE_LABELS = {
    "starting": _("Starting"),
    "download_inputs": _("Fetching your portrait and audio"),
    "load_audio": _("Reading the audio"),
    "analyse_audio": _("Listening to the speech"),
    "preprocess_image": _("Finding the face"),
    "animate": _("Animating the face"),
    "run_inference": _("Animating the face"),
    "encode_video": _("Encoding the video"),
    "done": _("Saving the video"),
    "store_output": _("Saving the video"),
    "waiting to join parts": _("Joining the parts"),
    "joining parts": _("Joining the parts"),
}


TITLE_MAX_LENGTH = 120


class CaptionsSource(models.TextChoices):
    SCRIPT = "script", _("Timed from the script")
    ALIGNED = "aligned", _("Timed from your transcript")
    RECOGNISED = "recognised", _("Recognised from the speech")
    EDITED = "edited", _("Sent by you")


class CaptionsStatus(models.TextChoices):
    MAKING = "making", _("Making captions")
    FAILED = "failed", _("Could not make captions")


class BurnInStatus(models.TextChoices):
    BURNING = "burning", _("Burning the captions in")
    FAILED = "failed", _("Could not burn the captions in")


class Job(models.Model):
    """One video a user asked for: inputs, options, where it is in the queue, and what came out."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    # Inputs may be deleted from the library later; the job's history and output stay.
    portrait = models.ForeignKey("library.Portrait", null=True, on_delete=models.SET_NULL, related_name="jobs")
    audio = models.ForeignKey("library.AudioClip", null=True, on_delete=models.SET_NULL, related_name="jobs")
    params = models.JSONField(help_text="Validated render parameters, defaults filled in.")
    backend = models.CharField(max_length=32)
    queue_name = models.CharField(max_length=64)
    plan = models.CharField(max_length=32, blank=True, db_index=True, help_text="The owner's plan at submission.")
    message_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The broker's id of the job's latest message (render or join, retries "
        "included); the reconciler looks for it in Redis.",
    )
    seed = models.BigIntegerField()
    watermark = models.BooleanField(default=False, help_text="Set from the plan at submission (Free: on).")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=32, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True, db_index=True)
    error_message = models.TextField(blank=True)
    # What the user calls the video; empty: the audio's file name stands in (display_title).
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    audio_duration_seconds = models.FloatField()
    quota_seconds = models.PositiveIntegerField(help_text="Render seconds reserved for this job.")
    # RESTRICT: a reservation is not deleted from under its job, but deleting an account deletes both.
    reservation = models.OneToOneField(
        "billing.Reservation", null=True, blank=True, on_delete=models.RESTRICT, related_name="job"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    earlier_attempts = models.PositiveSmallIntegerField(
        default=0,
        help_text="Attempts made before support's latest retry (attempts then start again from 0, so that "
        "the retry gets the whole allowance): timeline rows are numbered earlier_attempts + attempts.",
    )
    join_attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts at joining a lecture's parts.")
    # Set when a worker claims the job (to render it whole, split it, or join its parts) and cleared when that
    # attempt ends: only the holder may heartbeat, report or finish, so a worker taken for dead that wakes up late
    # changes nothing.
    attempt_token = models.UUIDField(null=True, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    renderer_version = models.CharField(max_length=64, blank=True)
    quality_gate = models.CharField(
        max_length=200, blank=True, help_text="What the quality gate said of the renderer version that rendered it."
    )
    checkpoint = models.ForeignKey(
        "checkpoints.Checkpoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
        help_text="The qualified weights that rendered it (a lecture: those of its first part).",
    )
    trace_id = models.CharField(max_length=32, blank=True, db_index=True)
    trace_parent = models.CharField(
        max_length=64, blank=True, help_text="W3C traceparent of the submission; retries continue this trace."
    )
    faces_found = models.PositiveSmallIntegerField(null=True, blank=True)
    segment_count = models.PositiveSmallIntegerField(default=0)
    loudness_reference = models.FloatField(
        null=True,
        blank=True,
        help_text="dBFS of the whole audio's loud speech: every part of a lecture opens the "
        "mouth against the same level, so its amplitude does not jump at joins.",
    )

    output = models.FileField(max_length=255, blank=True)
    poster = models.FileField(max_length=255, blank=True)
    output_size_bytes = models.BigIntegerField(default=0)
    stored_bytes = models.BigIntegerField(
        default=0, help_text="The video and poster, counted against the owner's storage while the job exists."
    )
    kept_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The owner's plan retention when the video was made (what its page said)."
    )
    expiry_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner was told this video would be deleted (retention)."
    )
    output_duration_seconds = models.FloatField(null=True, blank=True)
    captions = models.JSONField(
        default=list,
        blank=True,
        help_text="[start, end, text] cues on the video: copied from its audio at submission, made from its speech, "
        "or sent by its owner.",
    )
    captions_source = models.CharField(max_length=12, choices=CaptionsSource.choices, blank=True)
    captions_language = models.CharField(max_length=16, blank=True, help_text="BCP 47, the <track>'s srclang.")
    captions_status = models.CharField(max_length=8, choices=CaptionsStatus.choices, blank=True)
    captions_error_code = models.CharField(max_length=64, blank=True)
    captions_error_message = models.CharField(max_length=300, blank=True)
    captions_requested_at = models.DateTimeField(null=True, blank=True)
    # A copy of the video with its captions drawn into the picture, for players that show no caption track.
    burned_in = models.FileField(max_length=255, blank=True)
    burned_in_bytes = models.BigIntegerField(default=0, help_text="Counted in stored_bytes while the copy exists.")
    burned_in_status = models.CharField(max_length=8, choices=BurnInStatus.choices, blank=True)
    burned_in_error_code = models.CharField(max_length=64, blank=True)
    burned_in_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["status", "heartbeat_at"])]
        permissions = [
            ("retry_job", "Can render a failed or canceled job again"),
            ("cancel_job", "Can cancel a user's job"),
            ("refund_job", "Can refund a job's render time"),
            ("renew_download_link", "Can make a fresh download link for a job"),
        ]

    def __str__(self):
        return f"job {self.id}"

    @property
    def display_title(self) -> str:
        """The user's title, else the audio's file name without its extension."""
        if self.title:
            return self.title
        if self.audio is not None and self.audio.original_name:
            return self.audio.original_name.rsplit(".", 1)[0] or self.audio.original_name
        return gettext("Video")

    @property
    def download_name(self) -> str:
        """The MP4's file name when downloaded: the title, minus characters file systems refuse."""
        cleaned = " ".join(re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", self.display_title).split()).strip(" .")
        cleaned = cleaned or "video"
        return f"{cleaned[:100]}.mp4"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def queue_wait_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.started_at - self.created_at).total_seconds()

    @property
    def support_code(self) -> str:
        from portal.tracing import support_code

        return support_code(self.trace_id)

    @property
    def render_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def stage_label(self) -> str:
        """Where the job is, in words its owner understands ("" once it has finished)."""
        if self.is_finished:
            return ""
        if self.cancel_requested:
            return gettext("Stopping")
        if self.status == self.Status.QUEUED:
            return gettext("Waiting for a free renderer")
        if self.stage == "rendering parts":
            done = self.segments.filter(status=JobSegment.Status.DONE).count()
            return gettext("Rendering in parts (%(done)s of %(parts)s done)") % {
                "done": done,
                "parts": self.segment_count,
            }
        return str(STAGE_LABELS.get(self.stage, gettext("Rendering")))

    @property
    def seconds_left(self) -> float | None:
        """Estimated from the speed measured so far (time spent over progress made); None until there is enough."""
        if self.status != self.Status.RUNNING or self.started_at is None or self.progress < 0.05:
            return None
        spent = (timezone.now() - self.started_at).total_seconds()
        return max(spent * (1 - self.progress) / self.progress, 0.0)

    def parts_all_done(self) -> bool:
        """A lecture whose parts are all rendered: what is left is joining them."""
        return self.segment_count > 0 and not self.segments.exclude(status=JobSegment.Status.DONE).exists()


class JobSegment(models.Model):
    """A slice of a long job's audio, rendered by whichever worker takes its message."""

    class Status(models.TextChoices):
        PENDING = "pending"  # not yet in the queue: a lecture's parts are released a few at a time
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="segments")
    index = models.PositiveSmallIntegerField()
    start_seconds = models.FloatField()
    end_seconds = models.FloatField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveSmallIntegerField(default=0)
    earlier_attempts = models.PositiveSmallIntegerField(default=0, help_text="Before support's latest retry.")
    attempt_token = models.UUIDField(null=True, blank=True)
    message_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker_host = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.FileField(max_length=255, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="one_segment_per_index")]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self):
        return f"segment {self.index} of {self.job_id}"


class JobStage(models.Model):
    """One stage of one attempt (download_inputs, load_audio, ..., store_output), as the trace saw it. Kept in our
    database so support sees where the time went even when no tracing backend is configured."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stages")
    attempt = models.PositiveSmallIntegerField()
    segment_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty: the whole job.")
    name = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    seconds = models.FloatField()
    attributes = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["job", "started_at"]

    def __str__(self):
        return f"attempt {self.attempt}: {self.name}"


class WebhookEndpoint(models.Model):
    """Where a user wants to hear about finished jobs. The secret signs every event and is shown only once."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")  # the webhook was removed before it could be delivered

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_deliveries")
    job = models.ForeignKey(Job, null=True, on_delete=models.SET_NULL, related_name="webhook_deliveries")
    event = models.CharField(max_length=32)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(max_length=64, blank=True, help_text="The broker's id of its latest message.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} to {self.url}"


def new_share_token() -> str:
    """192 random bits, URL-safe: the whole of a share link's secret; it names nothing and decodes to nothing."""
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A public page that plays one finished video to whoever has its address, until it expires or is revoked."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0, help_text="How often the public page was opened.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"share link of {self.job_id}"

    def is_active(self, now=None) -> bool:
        return self.revoked_at is None and (now or timezone.now()) < self.expires_at
