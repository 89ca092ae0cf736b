"""What users do with jobs — submit, pre-flight, cancel, re-run, delete — shared by the web, API and CLI."""

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

import renderer
from billing import quota
from billing.models import Reservation, plan_for
from portal import queue, storage, tracing
from portal.accounts.models import User
from portal.errors import Refusal, shown_error, shown_warning
from portal.jobs import captions, queue_messages, transitions, worker_presence
from portal.jobs.errors import JobRejected
from portal.jobs.models import TITLE_MAX_LENGTH, Job, JobSegment

DEFAULT_BACKEND = "builtin"
UPGRADABLE_REFUSALS = frozenset(
    {"job_too_long", "resolution_not_in_plan", "quota_exceeded", "backend_not_in_plan", "too_many_jobs"}
)


@dataclass
class Preflight:
    """The free check shown before anything is spent."""

    params: dict
    audio_duration_seconds: float
    quota_seconds: int
    remaining_seconds: int = 0
    refusal: dict | None = None  # what submitting would be refused for (plan limits, quota), if anything
    faces_found: int | None = None
    face_error: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.face_error is None and self.refusal is None

    @property
    def upgrade_would_help(self) -> bool:
        """Refused for a limit a bigger plan raises (length, resolution, render time, renderer, jobs at once)."""
        return self.refusal is not None and self.refusal["code"] in UPGRADABLE_REFUSALS

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "refusal": self.refusal,
            "upgrade_would_help": self.upgrade_would_help,
            "remaining_seconds": self.remaining_seconds,
            "params": self.params,
            "audio_duration_seconds": round(self.audio_duration_seconds, 3),
            "quota_seconds": self.quota_seconds,
            "faces_found": self.faces_found,
            "face_error": self.face_error,
            "warnings": self.warnings,
        }


def _validated_params(options: dict) -> renderer.RenderParams:
    try:
        return renderer.validate_params(options)
    except renderer.RenderError as error:
        raise JobRejected(error.code, shown_error(error.code, error.message), field=error.field) from None


def quota_seconds_for(duration: float) -> int:
    return max(1, math.ceil(duration))


def _check_inputs(user, portrait, audio) -> None:
    if portrait is None or portrait.owner_id != user.pk:
        raise JobRejected("portrait_required", _("Choose a portrait from your library."), field="portrait")
    if audio is None or audio.owner_id != user.pk:
        raise JobRejected("audio_required", _("Choose an audio clip from your library."), field="audio")


def preflight(user, portrait, audio, options: dict, backend: str = DEFAULT_BACKEND) -> Preflight:
    _check_inputs(user, portrait, audio)
    params = _validated_params(options)
    seconds = quota_seconds_for(audio.duration_seconds)
    result = Preflight(
        params=params.as_dict(),
        audio_duration_seconds=audio.duration_seconds,
        quota_seconds=seconds,
        remaining_seconds=quota.usage_summary(user)["remaining_seconds"],
        warnings=[shown_warning(warning) for warning in params.warnings],
    )
    try:
        _check_plan(user, seconds, params, backend, remaining=result.remaining_seconds)
    except Refusal as refusal:
        result.refusal = refusal.as_dict()
    if portrait.face_checked and params.face_index is None:
        # Searched by the worker that checked the upload, with the same detector and limits: nothing to decode here.
        if portrait.face_error_code:
            result.face_error = {
                "code": portrait.face_error_code,
                "message": shown_error(portrait.face_error_code, portrait.face_error_message),
            }
        else:
            result.faces_found = portrait.faces_found
        return result
    with tempfile.TemporaryDirectory(prefix="preflight-") as workdir:
        local = storage.download_to(portrait.file.name, Path(workdir))
        try:
            face = renderer.find_face(local, params)
        except renderer.RenderError as error:
            result.face_error = {**error.as_dict(), "message": shown_error(error.code, error.message)}
        else:
            result.faces_found = face.faces_found
            result.warnings += [shown_warning(warning) for warning in face.warnings]
    return result


def active_jobs(user) -> int:
    """The user's jobs queued or rendering now (what the plan's concurrent-jobs limit counts)."""
    return Job.objects.filter(owner=user, status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).count()


def _check_plan(user, seconds: int, params, backend: str, remaining: int) -> None:
    """What submit() would refuse, checked without reserving anything (for the pre-flight)."""
    check_backend(user, backend)
    quota.check_job(user, seconds=seconds, resolution=params.resolution, active_jobs=active_jobs(user))
    if seconds > remaining:
        raise quota.QuotaError(
            "quota_exceeded",
            _(
                "This video needs %(needed)s s of render time but %(left)s s are "
                "left this period. Upgrade or wait for the renewal."
            )
            % {"needed": seconds, "left": remaining},
        )


def backends_for(user) -> list[str]:
    """The backends this user may choose: enabled here and in their plan."""
    return [backend for backend in settings.RENDER_BACKENDS if backend in plan_for(user).backends]


def check_backend(user, backend: str) -> None:
    """The backend is enabled here, in the user's plan, and a live worker renders with it (builtin runs on every
    worker, so a builtin job waits for one rather than being refused)."""
    if backend not in settings.RENDER_BACKENDS:
        raise JobRejected(
            "backend_not_enabled",
            _("Rendering with '%(backend)s' is not offered here; choose one of: %(offered)s.")
            % {"backend": backend, "offered": ", ".join(settings.RENDER_BACKENDS)},
            field="backend",
        )
    quota.check_backend(user, backend)
    if (
        backend != DEFAULT_BACKEND
        and backend not in settings.RENDER_BACKENDS_STARTED_ON_DEMAND
        and backend not in worker_presence.offered_backends()
    ):
        raise JobRejected(
            "backend_unavailable",
            _(
                "No worker that renders with %(backend)s is running right now, "
                "so the job could not start; try again later or render with "
                "builtin."
            )
            % {"backend": backend},
            status=503,
            field="backend",
        )


def submit(user, portrait, audio, options: dict, backend: str = DEFAULT_BACKEND, title: str = "") -> Job:
    """Validate, reserve quota and create the job in one transaction; the message is sent once it commits.

    Raises JobRejected, or billing's QuotaError when the plan does not allow it (both are Refusals)."""
    _check_inputs(user, portrait, audio)
    params = _validated_params(options)
    seconds = quota_seconds_for(audio.duration_seconds)
    check_backend(user, backend)
    # The job's trace starts here (under the request's span when there is one); its render continues it.
    with tracing.tracer.start_as_current_span("submit job") as span, transaction.atomic():
        # One submission per user at a time, so the concurrency limit below cannot be raced past. FOR NO KEY UPDATE
        # (as every row lock here): it does not block the foreign-key checks that other transactions make on the
        # user row when they commit (Django's foreign keys are deferred), which deadlocked submits against cancels.
        User.objects.select_for_update(no_key=True).get(pk=user.pk)
        quota.check_job(
            user, seconds=seconds, resolution=params.resolution, active_jobs=active_jobs(user), backend=backend
        )
        plan = plan_for(user)
        job = Job.objects.create(
            owner=user,
            title=" ".join(title.split())[:TITLE_MAX_LENGTH],
            portrait=portrait,
            audio=audio,
            params=params.as_dict(),
            backend=backend,
            seed=params.seed,
            watermark=plan.watermark,
            plan=plan.code,
            queue_name=queue.render_queue(backend, plan.queue_tier),
            trace_id=tracing.current_trace_id(),
            trace_parent=tracing.current_traceparent(),
            audio_duration_seconds=audio.duration_seconds,
            quota_seconds=seconds,
            warnings=list(params.warnings),
            **captions.from_audio(audio),
        )
        job.reservation = quota.reserve_seconds(user, seconds, job_ref=str(job.id))
        job.save(update_fields=["reservation"])
        span.set_attributes({"job.id": str(job.id), "job.plan": plan.code, "audio.duration_s": seconds})
        # If the broker does not answer, the job stays queued and the reconciler sends it later.
        transaction.on_commit(lambda: queue_messages.send_job(job.id))
    return job


def rerun(job: Job) -> Job:
    if job.portrait is None or job.audio is None:
        raise JobRejected("inputs_deleted", _("The portrait or audio of this job was deleted from your library."))
    return submit(job.owner, job.portrait, job.audio, job.params, backend=job.backend)


def _locked(job: Job) -> Job:
    """The job's row, locked for this transaction. A job deleted since it was looked up (a delete racing this
    request) is not found, exactly as one that never was."""
    locked = Job.objects.select_for_update(no_key=True).filter(pk=job.pk).first()
    if locked is None:
        raise Http404("the job was deleted meanwhile")
    return locked


def rename(job: Job, title: str) -> Job:
    """The video's title, shown in the portal and used as the downloaded file's name; empty goes back to the
    audio's name. Runs of white space become one space."""
    title = " ".join(title.split())
    if len(title) > TITLE_MAX_LENGTH:
        raise JobRejected(
            "title_too_long",
            _("A title can be at most %(count)s characters.") % {"count": TITLE_MAX_LENGTH},
            field="title",
        )
    job.title = title
    job.save(update_fields=["title"])
    return job


def retry(job: Job) -> Job:
    """Support renders a failed or canceled job again: the same job and trace, its render time reserved again."""
    with transaction.atomic():
        job = _locked(job)
        if job.status not in (Job.Status.FAILED, Job.Status.CANCELED):
            raise JobRejected(
                "job_not_retryable",
                _("Only failed or canceled jobs can be retried; this one is %(status)s.")
                % {"status": job.get_status_display()},
                status=409,
            )
        if job.portrait is None or job.audio is None:
            raise JobRejected("inputs_deleted", _("The portrait or audio of this job was deleted from the library."))
        # A reservation reference is used once; the first one (refunded when the job ended) stays in the ledger.
        job.reservation = quota.reserve_seconds(
            job.owner, job.quota_seconds, job_ref=f"{job.id} retry {timezone.now():%Y%m%dT%H%M%S%f}"
        )
        transitions.queue_again(job)
    return job


def refund(job: Job) -> int:
    """Support gives a finished job's render time back (say the video came out wrong); returns the seconds
    returned to the period."""
    if not job.is_finished:
        raise JobRejected(
            "job_unfinished", _("The job has not finished; cancel it instead (that refunds it)."), status=409
        )
    if job.reservation is None or job.reservation.state == Reservation.REFUNDED:
        raise JobRejected(
            "already_refunded",
            _(
                "Nothing to refund: this job's render time was already given back "
                "(failed and canceled jobs are refunded automatically)."
            ),
            status=409,
        )
    return quota.refund(job.reservation).charged_seconds or 0


def cancel(job: Job) -> Job:
    """A queued job ends now, and so does a lecture none of whose parts is rendering; anything rendering stops at
    its next frame."""
    with transaction.atomic():
        job = _locked(job)
        rendering_now = job.attempt_token is not None or job.segments.filter(status=JobSegment.Status.RUNNING).exists()
        if job.status == Job.Status.QUEUED:
            transitions.finish(job, Job.Status.CANCELED, "canceled", transitions.CANCELED_BEFORE_START)
        elif job.status == Job.Status.RUNNING and not rendering_now:
            transitions.finish(job, Job.Status.CANCELED, "canceled", transitions.CANCELED_WHILE_RENDERING)
        elif job.status == Job.Status.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
    return job


def delete(job: Job) -> None:
    """Delete a job with its files; a queued job is canceled (and refunded) first, a running one must stop first."""
    with transaction.atomic():
        job = _locked(job)  # two deletes at once: the second waits for the first, then finds nothing (404)
        if job.status == Job.Status.QUEUED:
            job = cancel(job)
        if job.status == Job.Status.RUNNING:
            raise JobRejected("job_running", _("The job is still rendering: cancel it, then delete it."), status=409)
        job.delete()  # files and storage go with it (portal/jobs/deletion.py)
