"""Sends the jobs app's queue messages (by actor name, through portal/queue.py), inside each job's trace.

Every send happens after the transaction that made its row has committed. When the broker does not answer the send
is logged and dropped: the row stays queued and the reconciler (portal/jobs/reconcile.py) sends it again, so a Redis
outage never turns a user's click into an error page.
"""

import logging
from contextlib import nullcontext

from django.db import DatabaseError, connection
from django.utils import timezone
from opentelemetry import trace

from portal import queue, tracing
from portal.jobs.models import Job, JobSegment

logger = logging.getLogger(__name__)


def send_job(job_id) -> bool:
    """Render (or split) a queued job. False when the broker did not take the message."""
    job = Job.objects.get(pk=job_id)
    sent = _send(queue.RENDER_JOB, job, str(job.pk))
    if sent:
        _note_sent(Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED))
    return sent


def send_parts(job: Job, indexes) -> list[int]:
    """Render these queued parts of a lecture; returns the indexes the broker took."""
    sent = [index for index in indexes if _send(queue.RENDER_PART, job, str(job.pk), index)]
    _note_sent(JobSegment.objects.filter(job=job, index__in=sent, status=JobSegment.Status.QUEUED))
    return sent


def send_join(job: Job) -> bool:
    """Join a lecture whose parts are all rendered."""
    sent = _send(queue.JOIN_PARTS, job, str(job.pk))
    if sent:
        _note_sent(Job.objects.filter(pk=job.pk))
    return sent


def _note_sent(rows) -> None:
    """When the message went (the reconciler's grace period starts again). Sends run after a commit, so a database
    that went away since must not turn a sent message into an error for the transition that committed: the row
    keeps the earlier time, and at worst the reconciler sends a copy that the claim drops."""
    try:
        rows.update(enqueued_at=timezone.now())
    except DatabaseError:
        logger.warning("could not note when a message was sent", exc_info=True)
        if not connection.in_atomic_block:
            connection.close()  # broken: the next query opens a new one


def send_webhook(delivery_id: int) -> bool:
    try:
        queue.send(queue.DELIVER_WEBHOOK, queue.WEBHOOK_QUEUE, delivery_id)
    except queue.BROKER_ERRORS:
        logger.warning(
            "webhook delivery %s: the broker did not take the message; the maintenance loop sends it",
            delivery_id,
            exc_info=True,
        )
        return False
    return True


def _send(stem: str, job: Job, *args) -> bool:
    # Inside the job's own trace (a worker sending the next part) the message is a child of the current span;
    # anywhere else (the reconciler, support's retry in an admin request) it continues the job's trace.
    actor_name = queue.render_actor_for_queue(stem, job.queue_name)
    current = trace.get_current_span().get_span_context()
    same_trace = current.is_valid and format(current.trace_id, "032x") == job.trace_id
    with nullcontext() if same_trace else tracing.continued_trace(job.trace_parent):
        try:
            queue.send(actor_name, job.queue_name, *args)
        except queue.BROKER_ERRORS:
            logger.warning(
                "job %s: the broker did not take %s%r; the reconciler sends it again",
                job.pk,
                actor_name,
                args,
                exc_info=True,
            )
            return False
    return True
