"""Jobs through the real Redis broker, a real Dramatiq worker and the real builtin renderer (at 256 px)."""

import time
from datetime import timedelta

import av
import dramatiq
import pytest
from django.core.files.storage import default_storage

from billing import quota
from billing.models import UsageEntry
from portal.jobs import services, transitions
from portal.jobs.models import Job, JobSegment
from portal.jobs.rendering import RENDER_JOB
from portal.library.upload import store
from tests.factories import running_worker, stored_files
from tests.jobs_helpers import eventually, fixture_inputs, reservation_state, wait_for
from tests.media import image_bytes, upload

FAST = {"resolution": 256}


def measured_duration(name: str) -> float:
    with default_storage.open(name) as handle, av.open(handle) as container:
        return float(container.duration / av.time_base)


@pytest.mark.slow
def test_short_job_renders_and_is_charged_once(worker, teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    assert job.queue_name == "builtin-paid" and not job.watermark
    job = wait_for(job)
    assert job.status == Job.Status.SUCCEEDED, (job.error_code, job.error_message)
    assert abs(measured_duration(job.output.name) - audio.duration_seconds) <= 0.04
    assert default_storage.exists(job.poster.name) and job.output_size_bytes > 0
    assert job.attempts == 1 and job.worker_host and job.renderer_version and job.queue_wait_seconds >= 0
    assert quota.usage_summary(teacher)["used_seconds"] == job.quota_seconds == 10

    # The same message delivered again (a redelivery after a lost ack) changes nothing.
    first_output = job.output.name
    RENDER_JOB[job.queue_name].send(str(job.id))
    dramatiq.get_broker().join(job.queue_name, timeout=30_000)
    worker.join()
    job.refresh_from_db()
    assert job.output.name == first_output and job.attempts == 1
    assert UsageEntry.objects.filter(reservation=job.reservation, kind="charge").count() == 1


@pytest.mark.slow
def test_bad_input_fails_at_once_with_a_refund_and_no_retry(worker, teacher):
    _, audio = fixture_inputs(teacher)
    faceless = store.add_portrait(teacher, upload("wall.png", image_bytes("PNG", (400, 400), noise=True)))
    job = wait_for(services.submit(teacher, faceless, audio, FAST))
    assert (job.status, job.error_code, job.attempts) == (Job.Status.FAILED, "no_face", 1)
    assert "face" in job.error_message
    assert quota.usage_summary(teacher)["used_seconds"] == 0
    assert reservation_state(job) == "refunded"


def test_cancel_while_queued_refunds_and_the_message_does_nothing(teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    job = services.cancel(job)
    assert job.status == Job.Status.CANCELED and reservation_state(job) == "refunded"
    with running_worker(threads=1) as late:
        dramatiq.get_broker().join(job.queue_name, timeout=30_000)
        late.join()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED and not job.output and job.attempts == 0


@pytest.mark.slow
def test_cancel_while_running_stops_at_the_next_frame(worker, teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 720})
    job = wait_for(job, statuses=[Job.Status.RUNNING, *Job.FINISHED])
    services.cancel(job)
    job = wait_for(job)
    assert job.status == Job.Status.CANCELED and not job.output
    assert reservation_state(job) == "refunded"


@pytest.mark.slow
def test_long_audio_is_split_rendered_by_parts_and_joined(worker, teacher, settings):
    settings.SEGMENT_SECONDS = 4.0
    portrait, audio = fixture_inputs(teacher)
    job = wait_for(services.submit(teacher, portrait, audio, FAST), timeout=240)
    assert job.status == Job.Status.SUCCEEDED, (job.error_code, job.error_message)
    segments = list(job.segments.all())
    assert job.segment_count == len(segments) >= 2
    assert all(s.status == JobSegment.Status.DONE for s in segments)
    assert segments[0].start_seconds == 0 and segments[-1].end_seconds == pytest.approx(audio.duration_seconds, 0.05)
    assert abs(measured_duration(job.output.name) - audio.duration_seconds) <= 0.04
    # The parts' files are deleted right after the join commits.
    eventually(lambda: not [name for name in stored_files() if "/parts/" in name], "the parts' files to be deleted")
    assert not any(s.output for s in job.segments.all())


@pytest.mark.slow
def test_reconciler_requeues_a_job_whose_worker_died(teacher, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 1
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    dramatiq.get_broker().flush_all()
    assert transitions.claim_job(job.id)  # a worker took it ... and was killed
    Job.objects.filter(pk=job.pk).update(heartbeat_at=job.created_at - timedelta(hours=1))

    from portal.jobs import reconcile

    outcome = reconcile.run()
    assert outcome["requeued"] == [job.id]
    with running_worker(threads=1):
        job = wait_for(job)
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_reconciler_fails_with_a_refund_after_too_many_attempts(teacher, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 1
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    transitions.claim_job(job.id)
    Job.objects.filter(pk=job.pk).update(attempts=3, heartbeat_at=job.created_at - timedelta(hours=1))

    from portal.jobs import reconcile

    assert reconcile.run()["failed"] == [job.id]
    job.refresh_from_db()
    assert (job.status, job.error_code, reservation_state(job)) == ("failed", "worker_lost", "refunded")


@pytest.mark.slow
def test_reconciler_resends_a_queued_job_whose_message_was_lost(teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    dramatiq.get_broker().flush_all()  # Redis restarted without its data
    old = job.created_at - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(created_at=old, enqueued_at=old)

    from portal.jobs import reconcile

    assert reconcile.run()["resent"] == [job.id]
    Job.objects.filter(pk=job.pk).update(enqueued_at=old)
    assert reconcile.run()["resent"] == [], "a job whose message is in the queue is left alone"
    with running_worker(threads=1):
        assert wait_for(job).status == Job.Status.SUCCEEDED


@pytest.mark.slow
def test_cancel_a_lecture_while_its_parts_render(worker, teacher, settings):
    settings.SEGMENT_SECONDS = 4.0
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 720})
    deadline = time.monotonic() + 60
    while not JobSegment.objects.filter(job=job, status=JobSegment.Status.RUNNING).exists():
        assert time.monotonic() < deadline, "no part started"
        time.sleep(0.05)
    services.cancel(job)
    job = wait_for(job)
    assert job.status == Job.Status.CANCELED and not job.output
    assert reservation_state(job) == "refunded"
    assert not JobSegment.objects.filter(job=job, status=JobSegment.Status.RUNNING).exists()


def test_inputs_deleted_before_rendering_fail_without_retry(teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    portrait.delete()
    with running_worker(threads=1):
        job = wait_for(job)
    assert (job.status, job.error_code, job.attempts) == ("failed", "inputs_deleted", 1)
