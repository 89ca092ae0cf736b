"""Job and part state transitions.

A worker *claims* a job (to render it whole, to split a lecture into parts, or to join the parts) or one part, and
gets an attempt token. Only the token's holder can heartbeat, report progress, hand the work back or end it; every
transition is a guarded UPDATE or runs under the job's row lock. So a redelivered message, the reconciler, a
user's click and a worker taken for dead that wakes up late can race without anything being rendered twice,
charged twice or refunded twice. Every claim counts an attempt in the database, whichever message carried it, so
the attempts per job and per part are bounded however many copies of a message exist.

A finished job is announced with the `job_finished` signal once its transaction commits.
"""

import enum
import logging
import os
import socket
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from billing import quota
from billing.models import plan_for
from portal import storage
from portal.jobs import queue_messages
from portal.jobs.models import Job, JobSegment
from portal.jobs.signals import job_finished
from portal.library import usage

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# Stored with the job in English (workers have no request); catalogued, so the job page shows them in the owner's
# language.
GAVE_UP = gettext_noop("The render failed several times on our side. Your quota was refunded; try again later.")
CANCELED_WHILE_RENDERING = gettext_noop("Canceled while rendering.")
CANCELED_BEFORE_START = gettext_noop("Canceled before it started.")


class Verdict(enum.Enum):
    """What a running attempt should do next."""

    GO = "go"
    CANCEL = "cancel"  # the user canceled: end the job as canceled
    LOST = "lost"  # the attempt no longer holds the job or part (taken for dead, or the job ended): stop, touch nothing


def worker_host() -> str:
    """Which machine and process is rendering, for support ("host:pid")."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- whole jobs, splits and joins -----------------------------------------------------------------------------


def claim_job(job_id) -> Job | None:
    """queued -> running for this worker, with a new attempt token. None when the job is not queued (finished,
    canceled, or taken by another copy of the message), or when its attempts are used up (it is then failed, with
    a refund)."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, attempts__lt=MAX_ATTEMPTS).update(
        status=Job.Status.RUNNING,
        attempt_token=uuid.uuid4(),
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker_host=worker_host(),
        stage="starting",
    )
    if claimed:
        return Job.objects.select_related("owner", "portrait", "audio").get(pk=job_id)
    exhausted = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, attempts__gte=MAX_ATTEMPTS).first()
    if exhausted is not None:
        finish(exhausted, Job.Status.FAILED, "render_failed", GAVE_UP)
    return None


def claim_join(job_id) -> Job | None:
    """A lecture whose parts are all rendered and that no attempt holds -> being joined by this worker."""
    now = timezone.now()
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(no_key=True)
            .filter(pk=job_id, status=Job.Status.RUNNING, attempt_token__isnull=True, segment_count__gt=0)
            .first()
        )
        if job is None or not job.parts_all_done():
            return None
        if job.cancel_requested:
            finish(job, Job.Status.CANCELED, "canceled", CANCELED_WHILE_RENDERING)
            return None
        if job.join_attempts >= MAX_ATTEMPTS:
            finish(job, Job.Status.FAILED, "render_failed", GAVE_UP)
            return None
        Job.objects.filter(pk=job.pk).update(
            attempt_token=uuid.uuid4(),
            join_attempts=F("join_attempts") + 1,
            heartbeat_at=now,
            worker_host=worker_host(),
            stage="joining parts",
        )
    return Job.objects.select_related("owner").get(pk=job_id)


def beat_job(job_id, token, **progress) -> Verdict:
    """The attempt is alive (called on its own thread every few seconds, whatever the renderer is doing), and
    where it is when the renderer reports `progress` and `stage`."""
    if not Job.objects.filter(pk=job_id, attempt_token=token, status=Job.Status.RUNNING).update(
        heartbeat_at=timezone.now(), **progress
    ):
        return Verdict.LOST
    return Verdict.CANCEL if Job.objects.filter(pk=job_id, cancel_requested=True).exists() else Verdict.GO


def hand_back_job(job: Job, token) -> bool:
    """running -> queued after a transient failure, to be tried again (a join stays running, unclaimed)."""
    if job.parts_all_done():
        return bool(
            Job.objects.filter(pk=job.pk, attempt_token=token, status=Job.Status.RUNNING).update(
                attempt_token=None, stage="waiting to join parts"
            )
        )
    return bool(
        Job.objects.filter(pk=job.pk, attempt_token=token, status=Job.Status.RUNNING).update(
            status=Job.Status.QUEUED, attempt_token=None, stage=""
        )
    )


def take_back_dead_job(job: Job, token, stale_before) -> bool:
    """running -> queued for a whole render or split whose worker stopped heartbeating before `stale_before` (the
    reconciler); a join stays running, unclaimed. The attempt counts: it was made."""
    held = Job.objects.filter(pk=job.pk, attempt_token=token, status=Job.Status.RUNNING, heartbeat_at__lt=stale_before)
    if job.parts_all_done():
        return bool(held.update(attempt_token=None, stage="waiting to join parts"))
    return bool(held.update(status=Job.Status.QUEUED, attempt_token=None, stage=""))


def take_back_dead_part(part: JobSegment, token, stale_before, now) -> bool:
    """running -> queued for a part whose worker stopped heartbeating before `stale_before` (the reconciler)."""
    return bool(
        JobSegment.objects.filter(
            pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING, heartbeat_at__lt=stale_before
        ).update(status=JobSegment.Status.QUEUED, attempt_token=None, progress=0.0, enqueued_at=now)
    )


def queue_again(job: Job) -> None:
    """failed or canceled -> queued, for support's retry (portal/jobs/services.py checks and reserves first): the
    same job and trace, attempts counted afresh, a lecture's parts rendered again. Runs under the job's row lock."""
    job.earlier_attempts += job.attempts  # attempt numbers go on counting across retries
    job.status, job.progress, job.stage, job.attempts, job.join_attempts = Job.Status.QUEUED, 0.0, "", 0, 0
    job.attempt_token = None
    job.error_code = job.error_message = ""
    job.cancel_requested = False
    job.started_at = job.finished_at = job.heartbeat_at = None
    job.save()
    # Their files went when the job ended.
    job.segments.update(
        status=JobSegment.Status.PENDING,
        progress=0.0,
        earlier_attempts=F("earlier_attempts") + F("attempts"),
        attempts=0,
        attempt_token=None,
        output="",
    )
    transaction.on_commit(lambda: queue_messages.send_job(job.id))


def give_back_job(job: Job, token) -> bool:
    """running -> queued, sent again at once, for a worker that is stopping (portal/jobs/shutdown.py): the attempt
    is not the job's fault, so it does not count. A join goes back to waiting for a worker to join it."""
    with transaction.atomic():
        held = Job.objects.filter(pk=job.pk, attempt_token=token, status=Job.Status.RUNNING)
        if job.parts_all_done():
            given = held.update(
                attempt_token=None,
                join_attempts=F("join_attempts") - 1,
                stage="waiting to join parts",
                enqueued_at=timezone.now(),
            )
            if given:
                transaction.on_commit(lambda: queue_messages.send_join(job))
        else:
            given = held.update(
                status=Job.Status.QUEUED,
                attempt_token=None,
                attempts=F("attempts") - 1,
                stage="",
                progress=0.0,
                enqueued_at=timezone.now(),
            )
            if given:
                transaction.on_commit(lambda: queue_messages.send_job(job.pk))
    return bool(given)


def split_into_parts(job: Job, token, plan, loudness_reference: float | None) -> bool:
    """The splitting attempt ends: the job is running as parts, each its own message, released a few at a time.
    Parts already rendered by an earlier attempt are kept."""
    with transaction.atomic():
        locked = (
            Job.objects.select_for_update(no_key=True)
            .filter(pk=job.pk, attempt_token=token, status=Job.Status.RUNNING)
            .first()
        )
        if locked is None:
            return False
        JobSegment.objects.bulk_create(
            [JobSegment(job=locked, index=i, start_seconds=s.start, end_seconds=s.end) for i, s in enumerate(plan)],
            ignore_conflicts=True,
        )
        JobSegment.objects.filter(job=locked).exclude(status=JobSegment.Status.DONE).update(
            status=JobSegment.Status.PENDING, attempt_token=None, progress=0.0
        )
        Job.objects.filter(pk=locked.pk).update(
            segment_count=len(plan),
            attempt_token=None,
            stage="rendering parts",
            loudness_reference=loudness_reference,
        )
        locked.segment_count = len(plan)
        if not locked.parts_all_done():
            release_parts(locked)
        else:
            Job.objects.filter(pk=locked.pk).update(enqueued_at=timezone.now())
            transaction.on_commit(lambda: queue_messages.send_join(locked))
    return True


def finish(job: Job, status: str, error_code: str = "", error_message: str = "", *, token=None, **fields) -> bool:
    """End an unfinished job exactly once: charge its quota on success, refund it otherwise. With `token`, only
    while that attempt still holds the job."""
    with transaction.atomic():
        unfinished = Job.objects.filter(pk=job.pk, status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
        if token is not None:
            unfinished = unfinished.filter(attempt_token=token)
        ended = unfinished.update(
            status=status,
            finished_at=timezone.now(),
            error_code=error_code,
            error_message=error_message,
            progress=1.0 if status == Job.Status.SUCCEEDED else F("progress"),
            stage="",
            attempt_token=None,
            **fields,
        )
        if not ended:
            return False
        job.refresh_from_db()
        if status == Job.Status.SUCCEEDED:
            usage.add(job.owner_id, job.stored_bytes)  # the video and poster count against the owner's storage
            Job.objects.filter(pk=job.pk).update(kept_days=plan_for(job.owner).retention_days)
        else:  # parts still waiting or rendering are abandoned with the job; what was stored of it goes
            JobSegment.objects.filter(job=job).exclude(status=JobSegment.Status.DONE).update(
                status=JobSegment.Status.FAILED, attempt_token=None
            )
            leftovers = [job.poster.name, *job.segments.exclude(output="").values_list("output", flat=True)]
            job.segments.update(output="")
            Job.objects.filter(pk=job.pk).update(poster="")
            transaction.on_commit(lambda: storage.delete_files(leftovers))
        if job.reservation is not None:
            (quota.charge if status == Job.Status.SUCCEEDED else quota.refund)(job.reservation)
        job_id = job.pk
        transaction.on_commit(lambda: _announce_finished(job_id))
    return True


def _announce_finished(job_id) -> None:
    """job_finished to every receiver, once the job's end has committed. One that fails (say the database went away a
    moment after the commit) is logged: it keeps neither the others (the owner's email) from running nor the
    caller from knowing that the job has ended."""
    for receiver, outcome in job_finished.send_robust(sender=Job, job_id=job_id):
        if isinstance(outcome, Exception):
            logger.error(
                "job %s: %s failed on job_finished",
                job_id,
                getattr(receiver, "__qualname__", receiver),
                exc_info=outcome,
            )


# --- parts of a lecture ---------------------------------------------------------------------------------------


def release_parts(job: Job) -> list[int]:
    """Keep PARTS_WAITING of the job's parts in the queue (call under the job's row lock). A long lecture
    therefore never fills the queue: another user's job sent now waits behind at most that many of its parts."""
    waiting = JobSegment.objects.filter(job=job, status=JobSegment.Status.QUEUED).count()
    room = settings.PARTS_WAITING - waiting
    if room <= 0:
        return []
    indexes = list(
        JobSegment.objects.filter(job=job, status=JobSegment.Status.PENDING)
        .order_by("index")
        .values_list("index", flat=True)[:room]
    )
    if indexes:
        # Sent once this commits; enqueued_at starts the reconciler's grace period should that send fail.
        JobSegment.objects.filter(job=job, index__in=indexes).update(
            status=JobSegment.Status.QUEUED, enqueued_at=timezone.now()
        )
        transaction.on_commit(lambda: queue_messages.send_parts(job, indexes))
    return indexes


def claim_part(job_id, index: int) -> JobSegment | None:
    """queued -> running for this worker, with a new attempt token; the next waiting part goes to the queue."""
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).filter(pk=job_id, status=Job.Status.RUNNING).first()
        if job is None:
            return None
        part = JobSegment.objects.filter(job=job, index=index, status=JobSegment.Status.QUEUED).first()
        if part is None:
            return None  # another copy of the message has it, or it is done
        if job.cancel_requested:
            finish(job, Job.Status.CANCELED, "canceled", CANCELED_WHILE_RENDERING)
            return None
        if part.attempts >= MAX_ATTEMPTS:
            finish(job, Job.Status.FAILED, "render_failed", GAVE_UP)
            return None
        now = timezone.now()
        JobSegment.objects.filter(pk=part.pk).update(
            status=JobSegment.Status.RUNNING,
            attempt_token=uuid.uuid4(),
            attempts=F("attempts") + 1,
            heartbeat_at=now,
            started_at=now,
            worker_host=worker_host(),
            progress=0.0,
        )
        release_parts(job)
    return JobSegment.objects.select_related("job__owner", "job__portrait", "job__audio").get(pk=part.pk)


def beat_part(part: JobSegment, token) -> Verdict:
    if not JobSegment.objects.filter(pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    ):
        return Verdict.LOST
    return _job_verdict(part.job_id)


def report_part(part: JobSegment, token, progress: float) -> Verdict:
    if not JobSegment.objects.filter(pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING).update(
        progress=progress, heartbeat_at=timezone.now()
    ):
        return Verdict.LOST
    overall = JobSegment.objects.filter(job_id=part.job_id).aggregate(mean=Avg("progress"))["mean"] or 0.0
    Job.objects.filter(pk=part.job_id, status=Job.Status.RUNNING).update(progress=overall * 0.98)
    return _job_verdict(part.job_id)


def _job_verdict(job_id) -> Verdict:
    job = Job.objects.filter(pk=job_id).values("status", "cancel_requested").first()
    if job is None or job["status"] != Job.Status.RUNNING:
        return Verdict.LOST  # another part ended the job (failed, or canceled)
    return Verdict.CANCEL if job["cancel_requested"] else Verdict.GO


def hand_back_part(part: JobSegment, token) -> bool:
    """running -> queued after a transient failure; the part's message is retried."""
    return bool(
        JobSegment.objects.filter(pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING).update(
            status=JobSegment.Status.QUEUED, attempt_token=None, progress=0.0
        )
    )


def give_back_part(part: JobSegment, token) -> bool:
    """running -> queued, sent again at once, for a worker that is stopping: the attempt does not count."""
    with transaction.atomic():
        given = JobSegment.objects.filter(pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING).update(
            status=JobSegment.Status.QUEUED,
            attempt_token=None,
            progress=0.0,
            attempts=F("attempts") - 1,
            enqueued_at=timezone.now(),
        )
        if given:
            transaction.on_commit(lambda: queue_messages.send_parts(part.job, [part.index]))
    return bool(given)


def part_done(part: JobSegment, token, output_name: str, job_facts: dict | None = None) -> bool:
    """The part is rendered and stored; the last one sends the join. `job_facts` (the first part's: its poster,
    renderer version, faces, warnings) are the job's from now on. False when the attempt lost the part (the caller
    deletes its files: the part's, and the poster in `job_facts`)."""
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).get(pk=part.job_id)
        done = JobSegment.objects.filter(pk=part.pk, attempt_token=token, status=JobSegment.Status.RUNNING).update(
            status=JobSegment.Status.DONE,
            output=output_name,
            progress=1.0,
            finished_at=timezone.now(),
            attempt_token=None,
        )
        if not done or job.status != Job.Status.RUNNING:
            if done:  # the job ended meanwhile: nobody will join this part
                JobSegment.objects.filter(pk=part.pk).update(output="")
            return False
        if job_facts:
            facts = dict(job_facts)
            if job.poster and facts.get("poster"):  # one kept from before: the new one is not needed
                unused = facts.pop("poster")
                transaction.on_commit(lambda: storage.delete_files([unused]))
            Job.objects.filter(pk=job.pk).update(**facts)
        if job.parts_all_done():
            Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now(), stage="waiting to join parts")
            transaction.on_commit(lambda: queue_messages.send_join(job))
    return True


def finish_from_part(part: JobSegment, token, status: str, error_code: str, error_message: str) -> bool:
    """A part ends the whole job (canceled, or failed for good), while its attempt still holds the part."""
    with transaction.atomic():
        Job.objects.select_for_update(no_key=True).get(pk=part.job_id)
        if not JobSegment.objects.filter(pk=part.pk, attempt_token=token).exists():
            return False
        return finish(part.job, status, error_code, error_message)
