from django.conf import settings
from django.db import models

import renderer


class Checkpoint(models.Model):
    """Weights a backend may serve users with: they passed the quality gate (a qualification pipeline promoted them,
    or the repository's committed gate record vouches for them). A worker serves a backend only when the weights
    on its machine are a checkpoint here that was not withdrawn (portal/checkpoints/serving.py)."""

    class Source(models.TextChoices):
        PIPELINE = "pipeline", "qualification pipeline"
        REPOSITORY = "repository", "repository gate record"

    backend = models.CharField(max_length=32, choices=[(name, name) for name in renderer.BACKEND_NAMES])
    version = models.CharField(max_length=64, help_text="The backend's VERSION the gate ran.")
    digest = models.CharField(max_length=80, help_text="sha256 of the weights (renderer.checkpoint_digest).")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PIPELINE)
    cases_passed = models.PositiveIntegerField()
    cases_total = models.PositiveIntegerField()
    duration_error_ms = models.FloatField(null=True, blank=True, help_text="Worst over the cases.")
    offset_frames = models.FloatField(null=True, blank=True, help_text="Worst A/V offset over the cases.")
    sync_correlation = models.FloatField(null=True, blank=True, help_text="Lowest mouth-vs-audio correlation.")
    report_url = models.URLField(max_length=500, blank=True)
    pipeline_run = models.CharField(max_length=200, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    promoted_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(
        null=True, blank=True, help_text="Withdrawn checkpoints serve nobody: workers that have them refuse."
    )
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["backend", "-promoted_at"]
        constraints = [models.UniqueConstraint(fields=["backend", "digest"], name="one_checkpoint_per_weights")]

    def __str__(self):
        return f"{self.backend} {self.version} {self.short_digest}"

    @property
    def short_digest(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    @property
    def serves(self) -> bool:
        return self.withdrawn_at is None
