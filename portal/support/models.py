from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing support (or Stripe, through billing) did to an account or a job, with why and what changed."""

    class Action(models.TextChoices):
        RETRY = "retry", "job rendered again"
        CANCEL = "cancel", "job canceled"
        REFUND = "refund", "render time refunded"
        RENEW_LINK = "renew_link", "download link made"
        PLAN_CHANGED = "plan_changed", "plan changed"
        SECONDS_GRANTED = "seconds_granted", "render seconds granted"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member; empty when Stripe or the system did it.",
    )
    source = models.CharField(max_length=32, help_text="admin, webhook, checkout, sync_command, ...")
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
        help_text="The account it concerns.",
    )
    user_email = models.EmailField(blank=True, help_text="Kept when the account is deleted.")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    job_ref = models.CharField(max_length=36, blank=True, db_index=True, help_text="Kept when the job is deleted.")
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text='What changed, e.g. {"plan": ["free", "pro"]}.')

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit event"

    def __str__(self):
        return f"{self.get_action_display()} ({self.user_email})"


class SecondFactorSetupLink(models.Model):
    """A one-time link, emailed to a staff member, that lets the browser that opens it set up their first
    authenticator app (portal/support/second_factor.py). Only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"second-factor setup link for {self.user}"
