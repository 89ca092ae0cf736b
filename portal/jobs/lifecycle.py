"""Job state transitions.

Every transition is a guarded UPDATE (or runs under the job's row lock), so a redelivered message, the reconciler
and a user's click can race without a job being rendered twice, charged twice or refunded twice.
"""

import os
import socket

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing import quota
from billing.plans import plan_for
from portal import tracing
from portal.jobs.models import Job, JobSegment


def worker_host() -> str:
    """Which machine and process is rendering, for support ("host:pid")."""
    return f"{socket.gethostname()}:{os.getpid()}"


def queue_for(user) -> str:
    """Paid work has its own queue, so it never waits behind free work."""
    return "render-paid" if plan_for(user).queue_tier == "paid" else "render-free"


def enqueue(job_id) -> None:
    from portal.jobs import tasks

    job = Job.objects.get(pk=job_id)
    with tracing.continued_trace(job.trace_parent):  # a re-queue by the reconciler or support joins the job's trace
        message = tasks.RENDER_JOB[job.queue_name].send(str(job.id))
    # The Redis broker files the message under its own id; the reconciler looks it up by that one.
    broker_id = message.options.get("redis_message_id", message.message_id)
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now(), message_id=broker_id)


def claim(job_id) -> Job | None:
    """queued -> running for this worker; None when someone else has it or it already ended."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker_host=worker_host(),
        stage="starting",
    )
    return Job.objects.get(pk=job_id) if claimed else None


def release(job_id) -> bool:
    """running -> queued, for a transient failure that will be retried."""
    return bool(Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(status=Job.Status.QUEUED, stage=""))


def heartbeat(job_id, progress: float | None = None, stage: str | None = None) -> bool:
    """Record that the job is alive; True when it should stop (canceled, or taken from this worker)."""
    fields = {"heartbeat_at": timezone.now()}
    if progress is not None:
        fields["progress"] = progress
    if stage is not None:
        fields["stage"] = stage
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(**fields)
    return not Job.objects.filter(pk=job_id, cancel_requested=False, status=Job.Status.RUNNING).exists()


def finish(job: Job, status: str, error_code: str = "", error_message: str = "", **fields) -> bool:
    """End an unfinished job exactly once: charge its quota on success, refund it otherwise."""
    with transaction.atomic():
        ended = Job.objects.filter(pk=job.pk, status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).update(
            status=status,
            finished_at=timezone.now(),
            error_code=error_code,
            error_message=error_message,
            progress=1.0 if status == Job.Status.SUCCEEDED else F("progress"),
            stage="",
            **fields,
        )
        if not ended:
            return False
        job.refresh_from_db()
        if status != Job.Status.SUCCEEDED:  # parts still queued or rendering are abandoned with the job
            JobSegment.objects.filter(
                job=job, status__in=(JobSegment.Status.QUEUED, JobSegment.Status.RUNNING)
            ).update(status=JobSegment.Status.FAILED)
        if job.reservation is not None:
            (quota.charge if status == Job.Status.SUCCEEDED else quota.refund)(job.reservation)
        transaction.on_commit(lambda: _notify(job.pk))
    return True


def _notify(job_id) -> None:
    from portal.jobs import webhooks

    webhooks.job_finished(job_id)
