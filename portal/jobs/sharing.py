"""Share links: a finished video on a public page, for as long as its owner chose (never past the video's own
retention), until revoked. The token is random and names nothing; a link that is unknown, revoked, expired or whose
video is gone is answered as if it never existed (404)."""

from datetime import timedelta

from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.jobs import retention
from portal.jobs.errors import JobRejected
from portal.jobs.models import Job, ShareLink

# How long a new link works, in days: what the job page offers.
LIFETIMES = (1, 7, 30)
DEFAULT_LIFETIME = 7
ACTIVE_LINKS_MAX = 10


def create(job: Job, days: int) -> ShareLink:
    if job.status != Job.Status.SUCCEEDED or not job.output:
        raise JobRejected("job_unfinished", _("Only a finished video can be shared."), status=409)
    if days not in LIFETIMES:
        raise JobRejected("invalid_lifetime", _("Choose how long the link works: 1, 7 or 30 days."))
    now = timezone.now()
    if sum(link.is_active(now) for link in job.share_links.all()) >= ACTIVE_LINKS_MAX:
        raise JobRejected(
            "too_many_links",
            _("This video has %(count)s links that work; revoke one first.") % {"count": ACTIVE_LINKS_MAX},
            status=429,
        )
    expires_at = min(now + timedelta(days=days), retention.expires_at(job, now=now))
    return ShareLink.objects.create(job=job, expires_at=expires_at)


def revoke(link: ShareLink) -> None:
    if link.revoked_at is None:
        ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def active_link(token: str) -> ShareLink:
    """The link and its job, or 404 for every way it cannot be watched."""
    link = ShareLink.objects.select_related("job", "job__audio").filter(token=token).first()
    if link is None or not link.is_active() or link.job.status != Job.Status.SUCCEEDED or not link.job.output:
        raise Http404("no such shared video")
    return link


def watched(token: str) -> ShareLink:
    """The active link for its page, counted as one more view (in the database, so concurrent views all count)."""
    link = active_link(token)
    ShareLink.objects.filter(pk=link.pk).update(views=F("views") + 1)
    return link
