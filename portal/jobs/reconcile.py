"""Finds work the queue lost or whose worker died, and sends it again or ends it with a refund.

Waiting is not dying. Work that waits (a queued job or part, a lecture waiting to be joined) is judged by its
message: it is sent again only when its current message (portal/jobs/message_ids.py) is in no Redis queue, say
after Redis restarted without its data or a send failed. Work that runs is judged by its attempt's heartbeat, which
a thread keeps fresh however slow a stage is: no heartbeat for JOB_HEARTBEAT_TIMEOUT seconds means the worker died,
and the work is queued again while attempts are left, otherwise the job fails with a refund. A lecture's liveness
is its parts': the job itself is not judged while its parts render or wait. Nor is a heartbeat that could not be
written: after the database was away, attempts are judged again only once it has answered for JOB_HEARTBEAT_TIMEOUT
(the maintenance loop says when), so an outage longer than the timeout does not take every running worker for dead.

Every step is a guarded UPDATE, so two reconcilers, or a reconciler and a late worker, cannot both act.
"""

import logging
from datetime import timedelta

import dramatiq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from portal import queue
from portal.jobs import queue_messages, transitions
from portal.jobs.models import Job, JobSegment, WebhookDelivery
from portal.jobs.transitions import MAX_ATTEMPTS

logger = logging.getLogger(__name__)
# Work is only re-sent when its message has been missing for a while: it may be between commit and send.
SEND_GRACE = timedelta(seconds=settings.JOB_SEND_GRACE_SECONDS)
WORKER_LOST = gettext_noop(
    "The worker rendering this job stopped answering several times. Your quota was refunded; please try again."
)


def _in_redis(queue_name: str, message_id: str) -> bool:
    """Dramatiq's Redis broker keeps each queued or in-flight message in "<ns>:<queue>.msgs" (".DQ.msgs": delayed)."""
    broker = dramatiq.get_broker()
    client = getattr(broker, "client", None)
    if client is None or not message_id:
        return False
    prefix = f"{broker.namespace}:{queue_name}"
    return any(client.hexists(key, message_id) for key in (f"{prefix}.msgs", f"{prefix}.DQ.msgs"))


def _lost(row, queue_name: str, now) -> bool:
    """Waiting work whose message is nowhere (and was not sent a moment ago)."""
    sent_at = row.enqueued_at or getattr(row, "created_at", None)
    return (sent_at is None or sent_at < now - SEND_GRACE) and not _in_redis(queue_name, row.message_id)


def resend_lost_queued_jobs(now) -> list:
    resent = []
    for job in Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=now - SEND_GRACE):
        if _lost(job, job.queue_name, now):
            logger.warning("job %s: queued without a message; sending it again", job.pk)
            queue_messages.send_job(job.pk)
            resent.append(job.pk)
    return resent


def recover_dead_job_attempts(now) -> tuple[list, list]:
    """Whole renders, splits and joins whose worker stopped heartbeating."""
    stale_before = now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    requeued, failed = [], []
    dead = Job.objects.filter(status=Job.Status.RUNNING, attempt_token__isnull=False, heartbeat_at__lt=stale_before)
    for job in dead:
        joining = job.parts_all_done()
        used = job.join_attempts if joining else job.attempts
        if job.cancel_requested or used >= MAX_ATTEMPTS:
            ended = (
                transitions.finish(
                    job, Job.Status.CANCELED, "canceled", transitions.CANCELED_WHILE_RENDERING, token=job.attempt_token
                )
                if job.cancel_requested
                else transitions.finish(job, Job.Status.FAILED, "worker_lost", WORKER_LOST, token=job.attempt_token)
            )
            if ended:
                failed.append(job.pk)
            continue
        if not transitions.take_back_dead_job(job, job.attempt_token, stale_before):
            continue
        if joining:
            logger.warning("job %s: its join stopped heartbeating at %s; joining again", job.pk, job.heartbeat_at)
            queue_messages.send_join(job)
        else:
            logger.warning("job %s: no heartbeat since %s; queued again", job.pk, job.heartbeat_at)
            queue_messages.send_job(job.pk)
        requeued.append(job.pk)
    return requeued, failed


def resend_lost_joins(now) -> list:
    resent = []
    waiting = Job.objects.filter(status=Job.Status.RUNNING, attempt_token__isnull=True, segment_count__gt=0)
    for job in waiting.exclude(segments__status__in=[s for s in JobSegment.Status if s != JobSegment.Status.DONE]):
        if _lost(job, job.queue_name, now):
            logger.warning("job %s: its parts are done but no join is queued; sending it", job.pk)
            queue_messages.send_join(job)
            resent.append(job.pk)
    return resent


def recover_parts(now, judge_heartbeats: bool = True) -> dict:
    """Parts whose worker died go back to the queue (or end the job when their attempts are used up); parts whose
    message was lost are sent again; lectures with parts waiting to be released get them released. Without
    `judge_heartbeats`, no part is taken for dead."""
    stale_before = now - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    outcome = {"parts_requeued": [], "parts_resent": [], "parts_released": [], "failed": []}
    dead = (
        JobSegment.objects.filter(
            status=JobSegment.Status.RUNNING, heartbeat_at__lt=stale_before, job__status=Job.Status.RUNNING
        ).select_related("job")
        if judge_heartbeats
        else []
    )
    for part in dead:
        if part.attempts >= MAX_ATTEMPTS:
            if transitions.finish_from_part(part, part.attempt_token, Job.Status.FAILED, "worker_lost", WORKER_LOST):
                outcome["failed"].append(part.job_id)
            continue
        if transitions.take_back_dead_part(part, part.attempt_token, stale_before, now):
            logger.warning(
                "job %s part %s: no heartbeat since %s; queued again", part.job_id, part.index, part.heartbeat_at
            )
            queue_messages.send_parts(part.job, [part.index])
            outcome["parts_requeued"].append((part.job_id, part.index))
    waiting = JobSegment.objects.filter(status=JobSegment.Status.QUEUED, job__status=Job.Status.RUNNING)
    for part in waiting.select_related("job"):
        if _lost(part, part.job.queue_name, now):
            logger.warning("job %s part %s: queued without a message; sending it again", part.job_id, part.index)
            queue_messages.send_parts(part.job, [part.index])
            outcome["parts_resent"].append((part.job_id, part.index))
    pending = Job.objects.filter(status=Job.Status.RUNNING, segments__status=JobSegment.Status.PENDING).distinct()
    for job_id in pending.values_list("pk", flat=True):
        with transaction.atomic():
            job = Job.objects.select_for_update(no_key=True).filter(pk=job_id, status=Job.Status.RUNNING).first()
            released = transitions.release_parts(job) if job else []
        outcome["parts_released"] += [(job_id, index) for index in released]
    return outcome


def resend_lost_deliveries(now) -> list:
    """Webhook deliveries still pending whose message is nowhere: sent again, or ended once they had all their
    attempts."""
    resent = []
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, created_at__lt=now - SEND_GRACE)
    for delivery in pending:
        if _in_redis(queue.WEBHOOK_QUEUE, delivery.message_id):
            continue
        if delivery.attempts > queue.WEBHOOK_RETRIES:
            WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
                status=WebhookDelivery.Status.FAILED, finished_at=now
            )
            continue
        logger.warning("webhook delivery %s: pending without a message; sending it again", delivery.pk)
        queue_messages.send_webhook(delivery.pk)
        resent.append(delivery.pk)
    return resent


def run(judge_heartbeats: bool = True) -> dict:
    """One pass. `judge_heartbeats` False: nothing is taken for dead by its heartbeat (the database was away a moment
    ago, and the workers had no chance to write theirs); lost messages are still sent again."""
    now = timezone.now()
    requeued, failed = recover_dead_job_attempts(now) if judge_heartbeats else ([], [])
    parts = recover_parts(now, judge_heartbeats)
    return {
        "resent": resend_lost_queued_jobs(now),
        "requeued": requeued,
        "joins_resent": resend_lost_joins(now),
        "failed": failed + parts.pop("failed"),
        **parts,
        "webhooks_resent": resend_lost_deliveries(now),
    }
