"""Finds jobs the queue lost and puts them back, or ends them with a refund.

- queued, but its message is in no Redis queue (Redis restarted, or the send after commit failed): sent again;
- running, but no heartbeat for JOB_HEARTBEAT_TIMEOUT seconds (the worker died or was killed): queued again
  while attempts are left, otherwise failed with a refund.
Every step is a guarded UPDATE, so two reconcilers, or a reconciler and a late worker, cannot both act.
"""

import logging
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.utils import timezone

from portal.jobs import lifecycle
from portal.jobs.models import Job, JobSegment

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# A job is only re-sent when its message has been missing for a while: it may be between commit and send.
SEND_GRACE = timedelta(seconds=60)


def _message_is_queued(job: Job) -> bool:
    """Dramatiq's Redis broker keeps each queued or in-flight message in "<ns>:<queue>.msgs" (".DQ.msgs": delayed)."""
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is None or not job.message_id:
        return False
    prefix = f"{broker.namespace}:{job.queue_name}"
    return any(client.hexists(key, job.message_id) for key in (f"{prefix}.msgs", f"{prefix}.DQ.msgs"))


def requeue_lost_queued_jobs(now) -> list:
    resent = []
    for job in Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - SEND_GRACE):
        if job.enqueued_at and job.enqueued_at > now - SEND_GRACE:
            continue
        if not _message_is_queued(job):
            logger.warning("job %s: queued without a message; sending it again", job.pk)
            lifecycle.enqueue(job.pk)
            resent.append(job.pk)
    return resent


def recover_stalled_running_jobs(now) -> tuple[list, list]:
    stale_before = now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    requeued, failed = [], []
    for job in Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=stale_before):
        if job.attempts >= MAX_ATTEMPTS:
            if lifecycle.finish(job, Job.Status.FAILED, "worker_lost",
                                "The worker rendering this job stopped answering several times. "
                                "Your quota was refunded; please try again."):
                failed.append(job.pk)
            continue
        back = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=stale_before).update(
            status=Job.Status.QUEUED, stage=""
        )
        if back:
            JobSegment.objects.filter(job=job, status=JobSegment.Status.RUNNING).update(
                status=JobSegment.Status.QUEUED
            )
            logger.warning("job %s: no heartbeat since %s; queued again", job.pk, job.heartbeat_at)
            lifecycle.enqueue(job.pk)
            requeued.append(job.pk)
    return requeued, failed


def run() -> dict:
    now = timezone.now()
    requeued, failed = recover_stalled_running_jobs(now)
    resent = requeue_lost_queued_jobs(now)
    return {"resent": resent, "requeued": requeued, "failed": failed}
