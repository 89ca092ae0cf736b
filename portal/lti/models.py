import secrets
import uuid

from django.conf import settings
from django.db import models


def new_course_video_token() -> str:
    """192 random bits: what the course platform sends back in every launch of the link (its custom parameter)."""
    return secrets.token_urlsafe(24)


class CourseVideo(models.Model):
    """A finished video a teacher placed in a course through deep linking: the platform keeps only `token`, and
    students watch through `share_link`, which the owner sees (and can revoke) on the video's page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.CharField(max_length=64, unique=True, default=new_course_video_token, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_videos")
    # Kept when the video or its link goes, so a student's launch can say why it no longer plays (410, not 404).
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="course_videos")
    share_link = models.ForeignKey("jobs.ShareLink", null=True, on_delete=models.SET_NULL, related_name="course_videos")
    # The registration and deployment that placed it: only launches from the same one may play it.
    issuer = models.CharField(max_length=255)
    client_id = models.CharField(max_length=255)
    deployment_id = models.CharField(max_length=255)
    course_id = models.CharField(max_length=255, blank=True, help_text="The platform's context id.")
    course_title = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    launches = models.PositiveIntegerField(default=0, help_text="How often students (or teachers) opened it.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["issuer", "deployment_id"])]

    def __str__(self):
        return f"course video in {self.course_title or self.course_id or self.issuer}"
