"""Finished videos are kept for the owner's plan retention (billing/plans.py), then deleted — files and rows —
and the owner gets one email listing what went."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from billing.plans import all_plans, plan_for
from portal import storage
from portal.jobs.models import Job

logger = logging.getLogger(__name__)


def expires_at(job: Job):
    return job.created_at + timedelta(days=plan_for(job.owner).retention_days)


def run(now=None) -> list:
    now = now or timezone.now()
    shortest = min(plan.retention_days for plan in all_plans())
    candidates = Job.objects.filter(status__in=Job.FINISHED, created_at__lt=now - timedelta(days=shortest))
    expired = defaultdict(list)
    retention = {}
    for job in candidates.select_related("owner", "audio").order_by("owner_id", "created_at"):
        if job.owner_id not in retention:
            retention[job.owner_id] = plan_for(job.owner).retention_days
        if job.created_at < now - timedelta(days=retention[job.owner_id]):
            expired[job.owner].append(job)
    deleted = []
    for owner, jobs in expired.items():
        names = [name for job in jobs for name in job.stored_names()]
        with transaction.atomic():
            Job.objects.filter(pk__in=[job.pk for job in jobs]).delete()
            transaction.on_commit(lambda names=names: storage.delete_files(names))
        _tell(owner, jobs, retention[owner.pk])
        deleted += [job.pk for job in jobs]
    return deleted


def _tell(owner, jobs: list[Job], days: int) -> None:
    lines = [f"- {job.audio.original_name if job.audio else 'video'} (made {job.created_at:%Y-%m-%d})" for job in jobs]
    body = (
        f"Your plan keeps finished videos for {days} days, so these were deleted:\n\n" + "\n".join(lines) +
        "\n\nThe portraits and audio in your library are still there: you can render them again any time.\n"
        f"{settings.SITE_URL}/jobs/\n"
    )
    try:
        send_mail(f"[Sonic Portal] {len(jobs)} old video(s) deleted", body, None, [owner.email])
    except Exception:  # the deletion stands; a mail server outage must not bring it back
        logger.exception("could not tell %s about deleted videos", owner.email)
