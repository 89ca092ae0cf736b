"""Emails to a job's owner when it has finished (a lecture can render for an hour): in their saved language and time
zone, unless they turned them off in their preferences. Connected to the job_finished signal in JobsConfig.ready."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from portal.accounts.preferences import valid_time_zone
from portal.durations import duration_clock
from portal.errors import shown_error
from portal.jobs.models import Job

logger = logging.getLogger(__name__)


def on_job_finished(sender, job_id, **kwargs) -> None:
    """One email when a job succeeds or fails; none for a job its owner canceled."""
    job = Job.objects.select_related("owner", "audio").filter(pk=job_id).first()
    if job is None or job.status not in (Job.Status.SUCCEEDED, Job.Status.FAILED) or not job.owner.email_when_finished:
        return
    owner = job.owner
    zone = valid_time_zone(owner.time_zone) or settings.TIME_ZONE
    with translation.override(owner.language or settings.LANGUAGE_CODE), timezone.override(zone):
        subject, body = _message(job)
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:  # the video is there either way; its page says what the email would have
        logger.exception("could not email %s that job %s %s", owner.email, job.pk, job.status)


def _message(job: Job) -> tuple[str, str]:
    values = {
        "title": job.display_title,
        "duration": duration_clock(job.audio_duration_seconds),
        "url": settings.SITE_URL + reverse("jobs:detail", args=[job.pk]),
        "seconds": job.quota_seconds,
    }
    if job.status == Job.Status.SUCCEEDED:
        subject = gettext("[Sonic Portal] Your video “%(title)s” is ready") % values
        body = gettext("Your video “%(title)s” (%(duration)s) is ready to watch, download and share:\n%(url)s\n")
        return subject, body % values
    values["reason"] = shown_error(job.error_code, job.error_message)
    subject = gettext("[Sonic Portal] Your video “%(title)s” could not be made") % values
    body = gettext(
        "Your video “%(title)s” could not be made: %(reason)s\n\nThe %(seconds)s s of render time it "
        "reserved were given back. What to try next is on its page:\n%(url)s\n"
    )
    return subject, body % values
