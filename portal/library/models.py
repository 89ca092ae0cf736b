import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext


class StoredUpload(models.Model):
    """A file a user uploaded, kept under their storage prefix with a server-generated name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    original_name = models.CharField(max_length=255, help_text="The name on the uploader's computer (display only).")
    file = models.FileField(max_length=255)
    size_bytes = models.BigIntegerField(help_text="Storage used by this upload and its derived files.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self):
        return self.original_name

    def stored_names(self) -> list[str]:
        return [self.file.name]


class Portrait(StoredUpload):
    thumbnail = models.FileField(max_length=255)
    image_format = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Searched at upload with the renderer's own detector; all empty for portraits uploaded before that.
    faces_found = models.PositiveSmallIntegerField(null=True, blank=True)
    face_box = models.JSONField(
        null=True, blank=True, help_text="[left, top, right, bottom] in pixels of the face that is animated."
    )
    face_error_code = models.CharField(max_length=32, blank=True, help_text="Why it cannot be animated (no_face…).")
    face_error_message = models.CharField(max_length=300, blank=True)

    def stored_names(self) -> list[str]:
        return [self.file.name, self.thumbnail.name]

    @property
    def face_checked(self) -> bool:
        return self.faces_found is not None or bool(self.face_error_code)


class AudioClip(StoredUpload):
    duration_seconds = models.FloatField(help_text="Measured by decoding the whole file on the server.")
    sample_rate = models.PositiveIntegerField()
    channels = models.PositiveSmallIntegerField()
    codec = models.CharField(max_length=32)
    content_type = models.CharField(max_length=64)
    waveform = models.JSONField(default=list, blank=True, help_text="Peak level per slice of the audio, 0-100.")
    captions = models.JSONField(
        default=list, blank=True, help_text="[start, end, text] cues timed on this audio (a spoken script's)."
    )

    class Meta(StoredUpload.Meta):
        verbose_name = "audio clip"


class Script(models.Model):
    """A text a worker speaks into an audio clip of its owner's library, with a caption per unit said."""

    class Status(models.TextChoices):
        SPEAKING = "speaking", "speaking"
        READY = "ready", "ready"
        REFUSED = "refused", "refused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    text = models.TextField()
    voice = models.CharField(max_length=32)
    rate = models.FloatField(default=1.0)
    estimated_seconds = models.FloatField(help_text="How long it was expected to take to say, before it was said.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SPEAKING, db_index=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text="The writer's language: refusals are in it.")
    # Deleting the audio from the library deletes the script it was said from.
    audio = models.OneToOneField(AudioClip, null=True, blank=True, on_delete=models.CASCADE, related_name="script")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class Upload(models.Model):
    """A file on its way into the library: received in parts (resumable, the tus protocol), then checked by a worker.

    Its declared length is counted against the owner's storage from the start, so a full library is refused before a
    byte is sent; the parts are deleted once the file is in the library or refused.
    """

    class Kind(models.TextChoices):
        PORTRAIT = "portrait", "portrait"
        AUDIO = "audio", "audio"

    class Status(models.TextChoices):
        RECEIVING = "receiving", "receiving"
        CHECKING = "checking", "checking"
        READY = "ready", "ready"
        REFUSED = "refused", "refused"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    original_name = models.CharField(max_length=255)
    length = models.BigIntegerField(help_text="Bytes the client said it would send.")
    received = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVING, db_index=True)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text="The uploader's language: refusals are in it.")
    portrait = models.ForeignKey(Portrait, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    audio = models.ForeignKey(AudioClip, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.original_name

    def part_names(self) -> list[str]:
        """The stored parts, in order."""
        return list(self.parts.order_by("offset").values_list("name", flat=True))

    def refusal(self) -> dict | None:
        """Why a worker refused it, as {code, message}: written in the uploader's language when it was checked, and
        the catalogued messages translated to the reader's."""
        if self.status != self.Status.REFUSED:
            return None
        return {"code": self.error_code, "message": gettext(self.error_message) if self.error_message else ""}

    @property
    def percent(self) -> int:
        return int(100 * self.received / self.length) if self.length else 100


class UploadPart(models.Model):
    """One stored part of an upload, a row of its own: each part that arrives adds one (nothing is rewritten), and
    a part row that goes, however it goes, takes its file with it (portal/library/signals.py)."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="parts")
    offset = models.BigIntegerField(help_text="Where in the file the part starts.")
    size = models.BigIntegerField()
    name = models.CharField(max_length=255, help_text="Its name in media storage.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["upload", "offset"], name="one_part_per_offset")]

    def __str__(self):
        return self.name
