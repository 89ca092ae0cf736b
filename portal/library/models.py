import uuid

from django.conf import settings
from django.db import models


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

    class Meta(StoredUpload.Meta):
        verbose_name = "audio clip"
