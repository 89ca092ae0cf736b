from django.db import models
from django.utils import timezone


class StorageAuditRun(models.Model):
    """What one completed `manage.py storage_audit` found, so /metrics (and so alerts) can tell when it last ran and
    what is wrong: `problems` maps each kind of problem (PROBLEM_KINDS) to how many were found."""

    PROBLEM_KINDS = (
        "file_without_row",  # a stored file no row points at (left behind; --delete-orphans removes them)
        "row_without_file",  # a row whose file is missing from storage
        "quota_ledger_mismatch",  # a usage period whose counters disagree with its reservations
        "quota_held_by_finished_job",  # a finished job whose render time was neither charged nor refunded
    )

    finished_at = models.DateTimeField(default=timezone.now, db_index=True)
    files = models.PositiveIntegerField(help_text="Files in media storage.")
    referenced = models.PositiveIntegerField(help_text="File names the database points at.")
    problems = models.JSONField(default=dict, help_text="Problems found, by kind.")

    class Meta:
        ordering = ["-finished_at"]
        get_latest_by = "finished_at"

    def __str__(self):
        return f"storage audit at {self.finished_at:%Y-%m-%d %H:%M}: {self.problems}"
