"""What a worker does with a render message (the render actors, declared at the end): fetch inputs from storage, run
the renderer, store outputs, end the job.

A job whose audio is longer than SEGMENT_SECONDS is split at pauses into parts: each part is its own message that
any worker may take, released to the queue a few at a time (portal/jobs/transitions.py), and the last part to
finish sends the join. Inputs and outputs go through Django storage, so workers on other machines work the same
with S3. While a render runs, a thread heartbeats for it on its own, so a stage that reports no progress for
minutes is not taken for a dead worker. The database being away for a while (a restart, a failover) costs no
attempt: heartbeats and progress reports skip a beat, and what a finished attempt records waits for it to answer.
"""

import logging
import tempfile
import threading
import time
from pathlib import Path

import dramatiq
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from opentelemetry import trace

import renderer
from portal import metrics, queue, storage
from portal.checkpoints.serving import checkpoint_for
from portal.jobs import shutdown, transitions
from portal.jobs.models import Job, JobSegment, JobStage
from portal.jobs.transitions import MAX_ATTEMPTS, Verdict

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 1.0
# How long a finished attempt waits for an unreachable database to record what it did (then it gives up: the
# reconciler takes the attempt for dead and the work is done again).
DATABASE_WAIT_SECONDS = 600
DATABASE_RETRY_SECONDS = 1.0
DATABASE_AWAY = (OperationalError, InterfaceError)


def _drop_broken_connection() -> None:
    """After a connection error, this thread's next query opens a new connection (Django would otherwise keep using
    the broken one until the message ends). Inside a transaction it is left to the transaction's owner."""
    if not connection.in_atomic_block:
        connection.close()


def recorded(write, *, committed=lambda: False):
    """Run `write`, a transition that records what this attempt did, however long the database is away (up to
    DATABASE_WAIT_SECONDS): on a connection error it waits and tries again on a new connection. A try that lost its
    connection may have lost only the answer to its COMMIT, so before trying again `committed()` is asked whether
    the earlier try took effect after all (it is then not repeated and counts as done)."""
    deadline = time.monotonic() + DATABASE_WAIT_SECONDS
    interrupted = False
    while True:
        try:
            if interrupted and committed():
                return True
            return write()
        except DATABASE_AWAY as error:
            if time.monotonic() >= deadline:
                raise
            if not interrupted:
                logger.warning("the database is away (%s); waiting for it to record this attempt", error)
            interrupted = True
        _drop_broken_connection()
        time.sleep(DATABASE_RETRY_SECONDS)


class AttemptLost(Exception):
    """This worker no longer holds the job or part: it was taken for dead and handed to another, or it ended."""


class HandingBack(Exception):
    """This worker is stopping and its render ran past WORKER_SHUTDOWN_SECONDS: the work goes back to the queue."""


class Holding:
    """A worker's hold on a job or part while it renders.

    A thread heartbeats every few seconds whatever the renderer is doing; progress is written at most once a
    second; the renderer is told to stop as soon as either one learns that the job was canceled or the hold lost.
    """

    def __init__(self, beat, report):
        self.beat, self.report = beat, report
        self.verdict = Verdict.GO
        self.last_report = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat_until_done, name="heartbeat", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _beat_until_done(self) -> None:
        interval = max(0.2, min(settings.JOB_HEARTBEAT_TIMEOUT / 4, 15.0))
        try:
            while not self._done.wait(interval):
                try:
                    self._note(self.beat())
                except DatabaseError:  # the database is away for a moment: the next beat tries again
                    logger.warning("heartbeat failed; retrying", exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def _note(self, verdict: Verdict) -> None:
        if verdict is not Verdict.GO and self.verdict is Verdict.GO:
            self.verdict = verdict

    def progress(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if now - self.last_report < PROGRESS_EVERY_SECONDS and fraction < 1:
            return
        self.last_report = now
        try:
            self._note(self.report(fraction, stage))
        except DATABASE_AWAY:  # the render goes on; the next report tries again, on a new connection
            logger.warning("progress not recorded: the database is away", exc_info=True)
            _drop_broken_connection()

    def should_cancel(self) -> bool:
        return self.verdict is not Verdict.GO or shutdown.handing_back()

    def check(self) -> None:
        """Raise if the render must not be kept (call once it has finished)."""
        if self.verdict is Verdict.LOST:
            raise AttemptLost()
        if self.verdict is Verdict.CANCEL:
            raise renderer.CanceledError("canceled")
        if shutdown.handing_back():
            raise HandingBack()

    def why_stopped(self, error: BaseException) -> BaseException:
        """The renderer stops the same way for a user's cancel and for a stopping worker: tell them apart."""
        if isinstance(error, renderer.CanceledError) and self.verdict is Verdict.GO and shutdown.handing_back():
            return HandingBack()
        return error


def _holding_job(job_id, token) -> Holding:
    """A hold on a whole render, a split or a join."""
    return Holding(
        beat=lambda: transitions.beat_job(job_id, token),
        report=lambda fraction, stage: transitions.beat_job(job_id, token, progress=fraction, stage=stage),
    )


class InputsDeleted(renderer.RenderError):
    code = "inputs_deleted"
    retryable = False


def _inputs(job: Job, workdir: Path) -> tuple[Path, Path]:
    with renderer.stage("download_inputs") as running:
        if job.portrait is None or job.audio is None:
            raise InputsDeleted("The portrait or audio was deleted from the library before rendering.")
        portrait = storage.download_to(job.portrait.file.name, workdir)
        audio = storage.download_to(job.audio.file.name, workdir)
        running.set(bytes=portrait.stat().st_size + audio.stat().st_size)
    return portrait, audio


def _is_permanent(error: BaseException) -> bool:
    return isinstance(error, renderer.RenderError) and not error.retryable


# --- a whole job, or the split of a lecture -------------------------------------------------------------------


def render_job(job_id) -> None:
    trace.get_current_span().set_attribute("job.id", str(job_id))
    job = transitions.claim_job(job_id)
    if job is None:
        return  # finished, canceled, or already taken by another copy of the message
    token = job.attempt_token
    holding = _holding_job(job.pk, token)
    with renderer.timeline() as stages, holding:
        try:
            if job.audio_duration_seconds > settings.SEGMENT_SECONDS:
                _split(job, token, holding)
            else:
                _render_whole(job, token, holding)
        except BaseException as error:  # noqa: B036 - a time limit arrives as a BaseException and must refund too
            _after_job_error(job, token, holding.why_stopped(error), retries_left=job.attempts < MAX_ATTEMPTS)
        finally:
            _keep_stages(job, stages, attempt=job.earlier_attempts + job.attempts)


def _serving_checkpoint(backend: str):
    """The qualified checkpoint this worker renders `backend` with (CheckpointRefused, a transient error for the job,
    when its weights may not serve), named in the trace."""
    checkpoint = checkpoint_for(backend)
    trace.get_current_span().set_attributes(
        {"renderer.checkpoint": checkpoint.digest, "renderer.checkpoint_version": checkpoint.version}
    )
    return checkpoint


def _render_whole(job: Job, token, holding: Holding) -> None:
    checkpoint = _serving_checkpoint(job.backend)
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-") as workdir:
        portrait, audio = _inputs(job, Path(workdir))
        output = Path(workdir) / "video.mp4"
        started = time.monotonic()
        result = renderer.render(
            portrait,
            audio,
            output,
            job.params,
            backend=job.backend,
            watermark=job.watermark,
            progress=holding.progress,
            should_cancel=holding.should_cancel,
        )
        holding.check()
        _finish_with_output(
            job,
            token,
            output,
            result.poster_path,
            video_duration=result.video_duration,
            renderer_version=result.renderer_version,
            faces_found=result.faces_found,
            warnings=result.warnings,
            checkpoint=checkpoint,
        )
        metrics.observe_render(
            backend=job.backend,
            queue=job.queue_name,
            render_seconds=time.monotonic() - started,
            audio_seconds=job.audio_duration_seconds,
        )


def _split(job: Job, token, holding: Holding) -> None:
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-") as workdir:
        _, audio = _inputs(job, Path(workdir))
        with renderer.stage("plan_segments") as running:
            plan = renderer.plan_parts(audio, max_seconds=settings.SEGMENT_SECONDS, fps=job.params["fps"])
            running.set(segments=len(plan.segments))
    holding.check()
    split = Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, attempt_token__isnull=True, segment_count=len(plan.segments)
    )
    if not recorded(
        lambda: transitions.split_into_parts(job, token, plan.segments, plan.loudness_reference_db),
        committed=split.exists,
    ):
        raise AttemptLost()


def _after_job_error(job: Job, token, error: BaseException, retries_left: bool) -> None:
    """Bad inputs fail the job at once; anything else is tried again while attempts are left."""
    if isinstance(error, AttemptLost):
        logger.info("job %s: this worker no longer holds it; its work is dropped", job.pk)
    elif isinstance(error, HandingBack):
        if recorded(lambda: transitions.give_back_job(job, token)):
            logger.info("job %s: handed back to the queue: this worker is stopping", job.pk)
    elif isinstance(error, renderer.CanceledError):
        recorded(
            lambda: transitions.finish(
                job, Job.Status.CANCELED, "canceled", transitions.CANCELED_WHILE_RENDERING, token=token
            )
        )
    elif _is_permanent(error):
        recorded(lambda: transitions.finish(job, Job.Status.FAILED, error.code, error.message, token=token))
    elif retries_left:
        logger.warning("job %s: transient failure, will retry: %r", job.pk, error)
        if recorded(lambda: transitions.hand_back_job(job, token)):
            raise error
    else:
        logger.error("job %s: failed after %s attempts: %r", job.pk, MAX_ATTEMPTS, error)
        recorded(
            lambda: transitions.finish(
                job, Job.Status.FAILED, getattr(error, "code", "render_failed"), transitions.GAVE_UP, token=token
            )
        )


def _finish_with_output(
    job: Job,
    token,
    video: Path,
    poster: Path | None,
    *,
    video_duration: float,
    renderer_version: str,
    faces_found: int | None,
    warnings: list[str],
    checkpoint,
) -> None:
    with renderer.stage("store_output") as running:
        stored = [storage.save_local_file(storage.new_key(job.owner, "renders", ".mp4"), video)]
        if poster is not None:
            try:
                stored.append(storage.save_local_file(storage.new_key(job.owner, "posters", ".jpg"), poster))
            except BaseException:  # the video alone is no result: it goes, and the attempt is tried again
                storage.delete_files(stored)
                raise
        running.set(bytes=video.stat().st_size)
    poster_name = stored[1] if poster is not None else job.poster.name
    poster_bytes = storage.size(poster_name)
    ended = recorded(
        lambda: transitions.finish(
            job,
            Job.Status.SUCCEEDED,
            token=token,
            output=stored[0],
            poster=poster_name,
            output_size_bytes=video.stat().st_size,
            stored_bytes=video.stat().st_size + poster_bytes,
            output_duration_seconds=video_duration,
            renderer_version=renderer_version,
            quality_gate=gate_result(job.backend, renderer_version),
            checkpoint=checkpoint,
            faces_found=faces_found,
            warnings=list(job.warnings) + [w for w in warnings if w not in job.warnings],
        ),
        committed=lambda: Job.objects.filter(pk=job.pk, status=Job.Status.SUCCEEDED, output=stored[0]).exists(),
    )
    if not ended:  # canceled, failed or taken from this worker meanwhile: keep nothing
        storage.delete_files(stored)
        raise AttemptLost()


def gate_result(backend: str, version: str) -> str:
    """What the quality gate said of this renderer version, as support reads it in admin."""
    record = renderer.qualification_for(backend, version)
    if record is None:
        return "not qualified (no gate result recorded for this version)"
    return (
        f"{record['result']}: {record['cases']} reference cases at {record['resolution']} px, "
        f"{record['date'][:10]}, thresholds v{record['thresholds_version']}"
    )


def _keep_stages(job: Job, stages: list, *, attempt: int, segment_index: int | None = None) -> None:
    """The attempt's stage timeline, for support (written whether the attempt succeeded or not; lost, with a
    warning, when the database is away: it is no reason to do the work again)."""
    try:
        JobStage.objects.bulk_create(
            JobStage(
                job_id=job.pk,
                attempt=attempt,
                segment_index=segment_index,
                name=record.name,
                started_at=record.started_at,
                seconds=record.seconds,
                attributes=record.attributes,
                error_code=record.error_code[:64],
            )
            for record in stages
        )
    except DATABASE_AWAY:
        logger.warning(
            "job %s: the stage timeline of attempt %s was not kept: the database is away",
            job.pk,
            attempt,
            exc_info=True,
        )
        _drop_broken_connection()


# --- one part of a lecture ------------------------------------------------------------------------------------


def render_segment(job_id, index: int) -> None:
    part = transitions.claim_part(job_id, index)
    if part is None:
        return
    job, token = part.job, part.attempt_token
    trace.get_current_span().set_attributes({"job.id": str(job_id), "job.segment": index})
    holding = Holding(
        beat=lambda: transitions.beat_part(part, token),
        report=lambda fraction, stage: transitions.report_part(part, token, fraction),
    )
    with renderer.timeline(segment=index) as stages, holding:
        try:
            _render_part(job, part, token, holding)
        except BaseException as error:  # noqa: B036
            _after_part_error(part, token, holding.why_stopped(error))
        finally:
            _keep_stages(job, stages, attempt=part.earlier_attempts + part.attempts, segment_index=index)


def _render_part(job: Job, part: JobSegment, token, holding: Holding) -> None:
    checkpoint = _serving_checkpoint(job.backend)
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-{part.index}-") as workdir:
        portrait, audio = _inputs(job, Path(workdir))
        output = Path(workdir) / f"part-{part.index}.mp4"
        started = time.monotonic()
        result = renderer.render(
            portrait,
            audio,
            output,
            job.params,
            backend=job.backend,
            start=part.start_seconds,
            end=part.end_seconds,
            watermark=job.watermark,
            progress=holding.progress,
            should_cancel=holding.should_cancel,
            loudness_reference_db=job.loudness_reference,
        )
        holding.check()
        with renderer.stage("store_output") as running:
            stored = [storage.save_local_file(storage.new_key(job.owner, "parts", ".mp4"), output)]
            running.set(bytes=output.stat().st_size)
        facts = None
        if part.index == 0:  # the first part gives the job its poster and the facts a join cannot know
            facts = {
                "renderer_version": result.renderer_version,
                "checkpoint": checkpoint,
                "faces_found": result.faces_found,
                "warnings": list(dict.fromkeys(job.warnings + result.warnings)),
            }
            if result.poster_path is not None:
                try:
                    facts["poster"] = storage.save_local_file(
                        storage.new_key(job.owner, "posters", ".jpg"), result.poster_path
                    )
                except BaseException:
                    storage.delete_files(stored)
                    raise
                stored.append(facts["poster"])
    done = recorded(
        lambda: transitions.part_done(part, token, stored[0], job_facts=facts),
        committed=lambda: JobSegment.objects.filter(
            pk=part.pk, status=JobSegment.Status.DONE, output=stored[0]
        ).exists(),
    )
    if not done:
        storage.delete_files(stored)
        raise AttemptLost()
    metrics.observe_render(
        backend=job.backend,
        queue=job.queue_name,
        render_seconds=time.monotonic() - started,
        audio_seconds=part.end_seconds - part.start_seconds,
    )


def _after_part_error(part: JobSegment, token, error: BaseException) -> None:
    """Only this part is tried again; a canceled job, bad inputs or used-up attempts end the whole job."""
    if isinstance(error, AttemptLost):
        logger.info("job %s part %s: this worker no longer holds it; its work is dropped", part.job_id, part.index)
    elif isinstance(error, HandingBack):
        if recorded(lambda: transitions.give_back_part(part, token)):
            logger.info("job %s part %s: handed back to the queue: this worker is stopping", part.job_id, part.index)
    elif isinstance(error, renderer.CanceledError):
        recorded(
            lambda: transitions.finish_from_part(
                part, token, Job.Status.CANCELED, "canceled", transitions.CANCELED_WHILE_RENDERING
            )
        )
    elif _is_permanent(error):
        recorded(lambda: transitions.finish_from_part(part, token, Job.Status.FAILED, error.code, error.message))
    elif part.attempts < MAX_ATTEMPTS:
        logger.warning("job %s part %s: transient failure, will retry: %r", part.job_id, part.index, error)
        if recorded(lambda: transitions.hand_back_part(part, token)):
            raise error
    else:
        logger.error("job %s part %s: failed after %s attempts: %r", part.job_id, part.index, MAX_ATTEMPTS, error)
        recorded(
            lambda: transitions.finish_from_part(
                part, token, Job.Status.FAILED, getattr(error, "code", "render_failed"), transitions.GAVE_UP
            )
        )


# --- joining a lecture's parts --------------------------------------------------------------------------------


def join_parts(job_id) -> None:
    job = transitions.claim_join(job_id)
    if job is None:
        return
    token = job.attempt_token
    trace.get_current_span().set_attribute("job.id", str(job_id))
    holding = _holding_job(job.pk, token)
    segments = list(job.segments.all())
    with renderer.timeline() as stages, holding:
        try:
            with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-join-") as workdir:
                with renderer.stage("download_parts") as running:
                    parts = [storage.download_to(s.output.name, Path(workdir)) for s in segments]
                    running.set(segments=len(parts))
                with renderer.stage("join_parts") as running:
                    output = Path(workdir) / "video.mp4"
                    joined = renderer.concat(parts, output)
                    running.set(audio__duration_s=round(joined.video_duration, 4))
                holding.check()
                job.refresh_from_db()
                _finish_with_output(
                    job,
                    token,
                    output,
                    None,
                    video_duration=joined.video_duration,
                    renderer_version=job.renderer_version,
                    faces_found=job.faces_found,
                    warnings=[],
                    checkpoint=job.checkpoint,
                )
            # The rows first: should the database go away in between, a file is left over, never a row without one.
            recorded(lambda: JobSegment.objects.filter(job=job).update(output=""))
            storage.delete_files([s.output.name for s in segments])
        except BaseException as error:  # noqa: B036
            _after_job_error(job, token, holding.why_stopped(error), retries_left=job.join_attempts < MAX_ATTEMPTS)
        finally:
            _keep_stages(job, stages, attempt=job.earlier_attempts + job.attempts)


def _render_actors(function, stem: str) -> dict[str, dramatiq.Actor]:
    """One actor per backend and tier, by queue name. Bad inputs end the job without raising, so only transient
    failures (a lost worker, memory, storage hiccups) come back as retries."""
    return {
        queue.render_queue(backend, tier): dramatiq.actor(
            function,
            actor_name=queue.render_actor_name(stem, backend, tier),
            queue_name=queue.render_queue(backend, tier),
            priority=queue.PRIORITY[tier],
            time_limit=queue.RENDER_TIME_LIMIT_MS,
            max_retries=queue.RENDER_ATTEMPTS,
            min_backoff=queue.RENDER_MIN_BACKOFF_MS,
        )
        for backend in renderer.BACKEND_NAMES
        for tier in queue.TIERS
    }


RENDER_JOB = _render_actors(render_job, queue.RENDER_JOB)
RENDER_PART = _render_actors(render_segment, queue.RENDER_PART)
JOIN_PARTS = _render_actors(join_parts, queue.JOIN_PARTS)
