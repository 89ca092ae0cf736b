"""What a worker does for a job: fetch inputs from storage, run the renderer, store outputs, end the job.

A job whose audio is longer than SEGMENT_SECONDS is split at pauses: each part is its own message that any worker
may take, and the last part to finish sends the stitch message. Inputs and outputs go through Django storage,
so workers on other machines work the same with S3.
"""

import logging
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, F
from django.utils import timezone
from opentelemetry import trace

import renderer
from portal import metrics, storage
from portal.jobs import lifecycle
from portal.jobs.models import Job, JobSegment, JobStage

logger = logging.getLogger(__name__)
HEARTBEAT_EVERY_SECONDS = 1.0


class _Reporter:
    """Progress and cancel checks for the renderer, written to the database at most once a second."""

    def __init__(self, job_id, segment: JobSegment | None = None):
        self.job_id, self.segment = job_id, segment
        self.last_write = 0.0
        self.stop = False

    def progress(self, fraction: float, stage: str) -> None:
        now = time.monotonic()
        if now - self.last_write < HEARTBEAT_EVERY_SECONDS and fraction < 1:
            return
        self.last_write = now
        if self.segment is None:
            self.stop = lifecycle.heartbeat(self.job_id, progress=fraction, stage=stage)
            return
        JobSegment.objects.filter(pk=self.segment.pk).update(progress=fraction)
        overall = JobSegment.objects.filter(job_id=self.job_id).aggregate(mean=Avg("progress"))["mean"] or 0.0
        self.stop = lifecycle.heartbeat(self.job_id, progress=overall * 0.98, stage="rendering parts")

    def should_cancel(self) -> bool:
        return self.stop


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


def _end_after_error(job: Job, error: BaseException, retries_left: bool, requeue: bool = True) -> None:
    """Bad inputs fail the job at once; anything else is retried while retries are left."""
    if isinstance(error, renderer.CanceledError):
        lifecycle.finish(job, Job.Status.CANCELED, "canceled", "Canceled while rendering.")
    elif isinstance(error, renderer.RenderError) and not error.retryable:
        lifecycle.finish(job, Job.Status.FAILED, error.code, error.message)
    elif retries_left:
        logger.warning("job %s: transient failure, will retry: %r", job.pk, error)
        if requeue:
            lifecycle.release(job.pk)
        raise error
    else:
        logger.error("job %s: failed after retries: %r", job.pk, error)
        code = getattr(error, "code", "render_failed")
        lifecycle.finish(job, Job.Status.FAILED, code, "The render failed several times on our side. "
                         "Your quota was refunded; try again later.")


def render_job(job_id, retries_left: bool) -> None:
    trace.get_current_span().set_attribute("job.id", str(job_id))
    job = lifecycle.claim(job_id)
    if job is None:
        return  # finished, canceled, or already taken by another delivery of the same message
    with renderer.timeline() as stages:
        try:
            if job.audio_duration_seconds > settings.SEGMENT_SECONDS:
                _split(job)
                return
            reporter = _Reporter(job.pk)
            with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-") as workdir:
                portrait, audio = _inputs(job, Path(workdir))
                output = Path(workdir) / "video.mp4"
                started = time.monotonic()
                result = renderer.render(
                    portrait, audio, output, job.params, backend=job.backend, watermark=job.watermark,
                    progress=reporter.progress, should_cancel=reporter.should_cancel,
                )
                if reporter.stop:
                    raise renderer.CanceledError("canceled")
                _finish_with_output(
                    job, output, result.poster_path, video_duration=result.video_duration,
                    renderer_version=result.renderer_version, faces_found=result.faces_found,
                    warnings=result.warnings,
                )
                metrics.observe_render(backend=job.backend, queue=job.queue_name,
                                       render_seconds=time.monotonic() - started,
                                       audio_seconds=job.audio_duration_seconds)
        except BaseException as error:  # noqa: B036 - a time limit arrives as a BaseException and must refund too
            _end_after_error(job, error, retries_left)
        finally:
            _keep_stages(job, stages)


def _keep_stages(job: Job, stages: list[renderer.StageRecord], segment: JobSegment | None = None) -> None:
    """The attempt's stage timeline, for support (written whether the attempt succeeded or not)."""
    attempt, segment_index = (job.attempts, None) if segment is None else (segment.attempts, segment.index)
    JobStage.objects.bulk_create(
        JobStage(job_id=job.pk, attempt=attempt, segment_index=segment_index, name=record.name,
                 started_at=record.started_at, seconds=record.seconds, attributes=record.attributes,
                 error_code=record.error_code[:64])
        for record in stages
    )


def gate_result(backend: str, version: str) -> str:
    """What the quality gate said of this renderer version, as support reads it in admin."""
    record = renderer.qualification_for(backend, version)
    if record is None:
        return "not qualified (no gate result recorded for this version)"
    return (f"{record['result']}: {record['cases']} reference cases at {record['resolution']} px, "
            f"{record['date'][:10]}, thresholds v{record['thresholds_version']}")


def _finish_with_output(job: Job, video: Path, poster: Path | None, *, video_duration: float,
                        renderer_version: str, faces_found: int | None, warnings: list[str]) -> None:
    with renderer.stage("store_output") as running:
        stored = [storage.save_local_file(storage.new_key(job.owner, "renders", ".mp4"), video)]
        if poster is not None:
            stored.append(storage.save_local_file(storage.new_key(job.owner, "posters", ".jpg"), poster))
        running.set(bytes=video.stat().st_size)
    ended = lifecycle.finish(
        job,
        Job.Status.SUCCEEDED,
        output=stored[0],
        poster=stored[1] if poster is not None else job.poster.name,
        output_size_bytes=video.stat().st_size,
        output_duration_seconds=video_duration,
        renderer_version=renderer_version,
        quality_gate=gate_result(job.backend, renderer_version),
        faces_found=faces_found,
        warnings=list(job.warnings) + [w for w in warnings if w not in job.warnings],
    )
    if not ended:  # canceled or failed meanwhile by someone else: keep nothing
        storage.delete_files(stored)


def _split(job: Job) -> None:
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-") as workdir:
        _, audio = _inputs(job, Path(workdir))
        with renderer.stage("plan_segments") as running:
            plan = renderer.plan_segments(audio, max_seconds=settings.SEGMENT_SECONDS)
            running.set(segments=len(plan))
    with transaction.atomic():
        JobSegment.objects.bulk_create(
            [JobSegment(job=job, index=i, start_seconds=s.start, end_seconds=s.end) for i, s in enumerate(plan)],
            ignore_conflicts=True,  # a retried split keeps the parts already rendered
        )
        JobSegment.objects.filter(job=job, status=JobSegment.Status.RUNNING).update(status=JobSegment.Status.QUEUED)
        Job.objects.filter(pk=job.pk).update(segment_count=len(plan), stage="rendering parts")
        pending = list(JobSegment.objects.filter(job=job).exclude(status=JobSegment.Status.DONE).values_list(
            "index", flat=True))
        transaction.on_commit(lambda: _send_segments(job, pending) if pending else _send_stitch(job))


def _send_segments(job: Job, indexes) -> None:
    from portal.jobs.tasks import RENDER_SEGMENT

    for index in indexes:
        RENDER_SEGMENT[job.queue_name].send(str(job.pk), index)


def _send_stitch(job: Job) -> None:
    from portal.jobs.tasks import STITCH_JOB

    STITCH_JOB[job.queue_name].send(str(job.pk))


def render_segment(job_id, index: int, retries_left: bool) -> None:
    claimed = JobSegment.objects.filter(
        job_id=job_id, index=index, status=JobSegment.Status.QUEUED, job__status=Job.Status.RUNNING
    ).update(
        status=JobSegment.Status.RUNNING, attempts=F("attempts") + 1, worker_host=lifecycle.worker_host(),
        started_at=timezone.now(), progress=0.0,
    )
    if not claimed:
        return
    segment = JobSegment.objects.select_related("job__owner", "job__portrait", "job__audio").get(
        job_id=job_id, index=index
    )
    job = segment.job
    trace.get_current_span().set_attributes({"job.id": str(job_id), "job.segment": index})
    with renderer.timeline(segment=index) as stages:
        try:
            _render_one_segment(job, segment, index)
        except BaseException as error:  # noqa: B036
            if not (isinstance(error, renderer.RenderError) and not error.retryable) and retries_left:
                JobSegment.objects.filter(pk=segment.pk).update(status=JobSegment.Status.QUEUED)
                raise  # only this part is retried
            JobSegment.objects.filter(pk=segment.pk).update(status=JobSegment.Status.FAILED)
            _end_after_error(job, error, retries_left=False)
        finally:
            _keep_stages(job, stages, segment)


def _render_one_segment(job: Job, segment: JobSegment, index: int) -> None:
    reporter = _Reporter(job.pk, segment)
    with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-{index}-") as workdir:
        portrait, audio = _inputs(job, Path(workdir))
        output = Path(workdir) / f"part-{index}.mp4"
        started = time.monotonic()
        result = renderer.render(
            portrait, audio, output, job.params, backend=job.backend, start=segment.start_seconds,
            end=segment.end_seconds, watermark=job.watermark, progress=reporter.progress,
            should_cancel=reporter.should_cancel,
        )
        if reporter.stop:
            raise renderer.CanceledError("canceled")
        with renderer.stage("store_output") as running:
            name = storage.save_local_file(storage.new_key(job.owner, "parts", ".mp4"), output)
            running.set(bytes=output.stat().st_size)
        if index == 0:  # the first part gives the job its poster and the facts a join cannot know
            facts = {"renderer_version": result.renderer_version, "faces_found": result.faces_found,
                     "warnings": list(dict.fromkeys(job.warnings + result.warnings))}
            if result.poster_path is not None:
                facts["poster"] = storage.save_local_file(
                    storage.new_key(job.owner, "posters", ".jpg"), result.poster_path
                )
            Job.objects.filter(pk=job.pk).update(**facts)
    _segment_done(job, segment, name)
    metrics.observe_render(backend=job.backend, queue=job.queue_name, render_seconds=time.monotonic() - started,
                           audio_seconds=segment.end_seconds - segment.start_seconds)


def _segment_done(job: Job, segment: JobSegment, name: str) -> None:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        updated = JobSegment.objects.filter(pk=segment.pk, status=JobSegment.Status.RUNNING).update(
            status=JobSegment.Status.DONE, output=name, progress=1.0, finished_at=timezone.now()
        )
        if not updated or locked.status != Job.Status.RUNNING:
            transaction.on_commit(lambda: storage.delete_files([name]))
            return
        if not locked.segments.exclude(status=JobSegment.Status.DONE).exists():
            transaction.on_commit(lambda: _send_stitch(locked))


def stitch_job(job_id, retries_left: bool) -> None:
    job = Job.objects.select_related("owner").filter(pk=job_id, status=Job.Status.RUNNING).first()
    if job is None:
        return
    segments = list(job.segments.all())
    if not segments or any(s.status != JobSegment.Status.DONE for s in segments):
        return
    trace.get_current_span().set_attribute("job.id", str(job_id))
    with renderer.timeline() as stages:
        try:
            lifecycle.heartbeat(job.pk, stage="joining parts")
            with tempfile.TemporaryDirectory(prefix=f"job-{job.pk}-stitch-") as workdir:
                with renderer.stage("download_parts") as running:
                    parts = [storage.download_to(s.output.name, Path(workdir)) for s in segments]
                    running.set(segments=len(parts))
                with renderer.stage("join_parts") as running:
                    output = Path(workdir) / "video.mp4"
                    joined = renderer.concat(parts, output)
                    running.set(audio__duration_s=round(joined.video_duration, 4))
                job.refresh_from_db()
                _finish_with_output(
                    job, output, None, video_duration=joined.video_duration,
                    renderer_version=job.renderer_version, faces_found=job.faces_found, warnings=[],
                )
            storage.delete_files([s.output.name for s in segments])
        except BaseException as error:  # noqa: B036
            _end_after_error(job, error, retries_left, requeue=False)  # the job stays running; only the join retries
        finally:
            _keep_stages(job, stages)
