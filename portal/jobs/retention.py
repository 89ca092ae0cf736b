"""Finished videos are kept for the owner's plan retention (billing/plans.py), then deleted with their files, and
the owner is emailed what went.

A video is never deleted earlier than its page said without notice: when the owner's plan now keeps videos for
less time than when the video was made (a downgrade), the owner is emailed NOTICE_DAYS before the new date, and a
video past it already is kept NOTICE_DAYS after that email. A video the plan keeps again (an upgrade) is kept.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from billing.models import plan_for
from billing.plans import all_plans
from portal.accounts.preferences import valid_time_zone
from portal.jobs.models import Job

logger = logging.getLogger(__name__)
NOTICE_DAYS = 7


def _ends_by_plan(job: Job):
    return job.created_at + timedelta(days=plan_for(job.owner).retention_days)


def _shortened(job: Job) -> bool:
    """The owner's plan keeps this video for less time than when it was made."""
    return job.kept_days is not None and plan_for(job.owner).retention_days < job.kept_days


def expires_at(job: Job, now=None, retention_days: int | None = None):
    """When the video will be deleted, as the job page shows it (retention_days: the owner's plan's, when the
    caller already knows it, as a list of one user's jobs does)."""
    days = plan_for(job.owner).retention_days if retention_days is None else retention_days
    ends = job.created_at + timedelta(days=days)
    if job.kept_days is None or days >= job.kept_days:  # not shortened by a downgrade
        return ends
    now = now or timezone.now()
    told = job.expiry_notified_at or max(now, ends - timedelta(days=NOTICE_DAYS))
    return max(ends, told + timedelta(days=NOTICE_DAYS))


def run(now=None) -> dict:
    now = now or timezone.now()
    notice = timedelta(days=NOTICE_DAYS)
    shortest = min(plan.retention_days for plan in all_plans())
    candidates = Job.objects.filter(status__in=Job.FINISHED).filter(
        created_at__lt=now - timedelta(days=shortest) + notice
    ) | Job.objects.filter(expiry_notified_at__isnull=False)
    to_tell, deleted = defaultdict(list), defaultdict(list)
    for job in candidates.select_related("owner", "audio").order_by("owner_id", "created_at"):
        ends = _ends_by_plan(job)
        if not _shortened(job):
            if job.expiry_notified_at is not None:  # kept longer again (an upgrade)
                Job.objects.filter(pk=job.pk).update(expiry_notified_at=None)
            elif now >= ends:
                deleted[job.owner].append(job)
        elif job.expiry_notified_at is None:
            if now >= ends - notice:
                to_tell[job.owner].append(job)
        elif now >= max(ends, job.expiry_notified_at + notice):
            deleted[job.owner].append(job)
    for owner, jobs in deleted.items():
        Job.objects.filter(pk__in=[job.pk for job in jobs]).delete()  # files go too (portal/jobs/deletion.py)
        _tell(owner, "deleted", jobs, now)
    told = []
    for owner, jobs in to_tell.items():
        for job in jobs:
            job.expiry_notified_at = now
        if _tell(owner, "to_delete", jobs, now):  # the countdown starts only once the owner has been told
            told += [job.pk for job in jobs]
    Job.objects.filter(pk__in=told).update(expiry_notified_at=now)
    return {"expiry_notices": told, "expired": [job.pk for jobs in deleted.values() for job in jobs]}


def _tell(owner, what: str, jobs: list[Job], now) -> bool:
    """Emailed from the maintenance loop, outside any request: in the owner's saved language, with dates in their
    saved time zone (English and UTC when they saved none)."""
    zone = valid_time_zone(owner.time_zone) or settings.TIME_ZONE
    with translation.override(owner.language or settings.LANGUAGE_CODE), timezone.override(zone):
        subject, body = _notice(owner, what, jobs, now)
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:  # a deletion stands; a notice is sent again on the next pass
        logger.exception("could not email %s about their videos", owner.email)
        return False
    return True


def _day(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d}"


def _notice(owner, what: str, jobs: list[Job], now) -> tuple[str, str]:
    days = plan_for(owner).retention_days
    lines = []
    for job in jobs:
        name = job.audio.original_name if job.audio else gettext("video")
        if what == "to_delete":
            line = gettext("- %(name)s (made %(made)s, deleted on %(deleted)s)") % {
                "name": name,
                "made": _day(job.created_at),
                "deleted": _day(expires_at(job, now)),
            }
        else:
            line = gettext("- %(name)s (made %(made)s)") % {"name": name, "made": _day(job.created_at)}
        lines.append(line)
    values = {
        "count": len(jobs),
        "days": days,
        "notice_days": NOTICE_DAYS,
        "lines": "\n".join(lines),
        "site": settings.SITE_URL,
    }
    if what == "to_delete":
        subject = ngettext(
            "[Sonic Portal] %(count)s video will be deleted in %(notice_days)s days",
            "[Sonic Portal] %(count)s videos will be deleted in %(notice_days)s days",
            len(jobs),
        )
        body = gettext(
            "Your plan keeps finished videos for %(days)s days, so these will be deleted:\n\n%(lines)s\n\n"
            "Download the ones you want to keep, or upgrade your plan to keep them longer:\n"
            "%(site)s/jobs/\n%(site)s/billing/\n"
        )
    else:
        subject = ngettext(
            "[Sonic Portal] %(count)s old video deleted", "[Sonic Portal] %(count)s old videos deleted", len(jobs)
        )
        body = gettext(
            "Your plan keeps finished videos for %(days)s days, so these were deleted:\n\n%(lines)s\n\n"
            "The portraits and audio in your library are still there: you can render them again any "
            "time.\n%(site)s/jobs/\n"
        )
    return subject % values, body % values
