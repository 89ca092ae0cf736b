"""A worker told to stop (SIGTERM: what Kubernetes sends on a deploy, a scale-down or a node drain) finishes the
render it is running if it can within WORKER_SHUTDOWN_SECONDS, and otherwise hands its part back to the queue at
once, without the attempt counting against the job, so the next worker renders it and the user is charged once."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.utils import timezone

from billing.models import UsageEntry
from portal.connections import database_url
from portal.jobs import services
from portal.jobs.models import Job, JobSegment
from tests.factories import running_worker
from tests.jobs_helpers import eventually, messages_in_queue, speech_inputs, wait_for

pytestmark = pytest.mark.drill


@pytest.fixture
def start_worker(tmp_path):
    """Start `render_worker` as its own process, the way a container runs it; stops whatever is left at the end."""
    started = []

    def start(shutdown_seconds: float, **env):
        log = tmp_path / f"worker-{len(started)}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SONIC_TEST_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
            "SONIC_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "WORKER_SHUTDOWN_SECONDS": str(shutdown_seconds),
            **env,
        }
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "render_worker",
                    "--backends",
                    "builtin",
                    "--no-webhooks",
                    "--no-upload-checks",
                    "--processes",
                    "1",
                    "--threads",
                    "1",
                ],
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        process.log = log
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop(worker: subprocess.Popen, within: float) -> float:
    """SIGTERM to the worker's main process, as a container's init passes it on; seconds until it exited."""
    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    try:
        code = worker.wait(timeout=within)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {within} s after SIGTERM: {worker.log.read_text()[-3000:]}") from None
    assert code == 0, worker.log.read_text()[-3000:]
    return time.monotonic() - sent


def test_a_part_still_rendering_when_the_time_is_up_goes_back_to_the_queue_and_costs_no_attempt(
    transactional_db, teacher, start_worker
):
    # Parts long enough (18 s at 720 px: about 5 s each on an idle machine, longer under load) that progress, written
    # once a second and so up to a second old when read, is seen early in one, and when the half second after
    # SIGTERM is up it is still far from done. (12-s parts rendered in under 4 s on an idle machine: a part seen
    # at 60 % was sometimes finished before its time was up.)
    portrait, audio = speech_inputs(teacher, 36.0)
    job = services.submit(teacher, portrait, audio, {"resolution": 720})
    worker = start_worker(shutdown_seconds=0.5, SEGMENT_SECONDS="18")

    def a_part_well_under_way():
        return JobSegment.objects.filter(
            job=job, status=JobSegment.Status.RUNNING, progress__gt=0, progress__lte=0.4
        ).first()

    eventually(a_part_well_under_way, "a part rendering", timeout=180)
    part = a_part_well_under_way()
    assert stop(worker, within=30) < 15

    part.refresh_from_db()
    assert (part.status, part.attempts, part.progress, part.attempt_token) == (JobSegment.Status.QUEUED, 0, 0.0, None)
    assert "handed back to the queue: this worker is stopping" in worker.log.read_text()
    assert messages_in_queue(job.queue_name) >= 1, "sent again, for the next worker to take at once"
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING

    with running_worker():
        job = wait_for(job, timeout=240)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert all(attempts == 1 for attempts in job.segments.values_list("attempts", flat=True))
    assert UsageEntry.objects.filter(reservation=job.reservation, kind="charge").count() == 1
    assert abs(job.output_duration_seconds - job.audio_duration_seconds) < 0.1


def test_a_whole_job_still_rendering_when_the_time_is_up_goes_back_to_the_queue(
    transactional_db, teacher, start_worker
):
    portrait, audio = speech_inputs(teacher, 20.0)
    job = services.submit(teacher, portrait, audio, {"resolution": 720})
    worker = start_worker(shutdown_seconds=0.5)
    eventually(
        lambda: Job.objects.filter(pk=job.pk, progress__gt=0, progress__lte=0.6).exists(),
        "the job rendering",
        timeout=180,
    )
    stop(worker, within=30)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.attempt_token) == (Job.Status.QUEUED, 0, None)
    assert messages_in_queue(job.queue_name) >= 1
    with running_worker():
        job = wait_for(job, timeout=240)
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 1)
    assert UsageEntry.objects.filter(reservation=job.reservation, kind="charge").count() == 1


def test_a_render_that_finishes_within_the_time_is_kept_and_then_the_worker_exits(
    transactional_db, teacher, start_worker
):
    portrait, audio = speech_inputs(teacher, 8.0)
    job = services.submit(teacher, portrait, audio, {"resolution": 512})
    worker = start_worker(shutdown_seconds=120)
    eventually(lambda: Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).exists(), "the job starting", 180)
    told_to_stop = timezone.now()

    stop(worker, within=120)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, worker.log.read_text()[-3000:]
    assert job.finished_at > told_to_stop, "it was still rendering when the worker was told to stop"
    assert job.attempts == 1
    assert UsageEntry.objects.filter(reservation=job.reservation, kind="charge").count() == 1
    assert "handed back to the queue" not in worker.log.read_text()
