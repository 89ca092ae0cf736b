"""Liveness and retries on a busy farm: waiting is not dying, a slow stage is not a dead worker, a late worker
changes nothing, attempts are bounded however many copies of a message exist, and a Redis outage at submission
is not an error page. Real PostgreSQL, Redis, Dramatiq workers and the builtin renderer (256 px)."""

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlsplit

import dramatiq
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

import renderer
from portal.connections import database_url
from portal.jobs import queue_messages, reconcile, rendering, services, transitions
from portal.jobs.models import Job, JobSegment, JobStage
from portal.jobs.transitions import MAX_ATTEMPTS, Verdict
from tests.factories import running_worker
from tests.jobs_helpers import eventually, fixture_inputs, form_data, messages_in_queue, reservation_state, wait_for

FAST = {"resolution": 256}


def age(model, pk, *fields: str) -> None:
    """Make time pass for a row: these times of it (heartbeat, send, creation) move an hour into the past."""
    past = timezone.now() - timedelta(hours=1)
    model.objects.filter(pk=pk).update(**dict.fromkeys(fields, past))


@pytest.mark.slow
def test_parts_waiting_in_a_busy_queue_are_not_taken_for_dead(teacher, settings):
    settings.SEGMENT_SECONDS, settings.JOB_HEARTBEAT_TIMEOUT, settings.PARTS_WAITING = 2.0, 1, 2
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    dramatiq.get_broker().flush_all()
    rendering.render_job(job.pk)  # a worker splits the lecture; then every worker is busy elsewhere for an hour
    job.refresh_from_db()
    parts = list(job.segments.all())
    assert job.status == "running" and job.attempt_token is None and len(parts) >= 4
    assert [p.status for p in parts[:2]] == ["queued"] * 2 and {p.status for p in parts[2:]} == {"pending"}
    assert messages_in_queue(job.queue_name) == 2, "only PARTS_WAITING parts are in the queue"
    age(Job, job.pk, "heartbeat_at", "enqueued_at", "created_at")
    for part in parts:
        age(JobSegment, part.pk, "enqueued_at")

    outcome = reconcile.run()
    assert not any(outcome.values()), outcome
    job.refresh_from_db()
    assert job.status == "running" and messages_in_queue(job.queue_name) == 2

    with running_worker(threads=2):
        job = wait_for(job, timeout=240)
    assert job.status == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 1 and job.join_attempts == 1
    assert list(job.segments.values_list("attempts", flat=True)) == [1] * len(parts), "no part rendered twice"


@pytest.mark.slow
def test_a_slow_stage_keeps_its_heartbeat_and_is_not_taken_for_dead(teacher, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 1
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    claimed = transitions.claim_job(job.pk)
    token = claimed.attempt_token
    beats = rendering.Holding(beat=lambda: transitions.beat_job(job.pk, token), report=None)
    with beats:  # the renderer reports nothing at all (Sonic's run_inference, a long encode) for 3 timeouts
        first = Job.objects.get(pk=job.pk).heartbeat_at
        eventually(lambda: timezone.now() - first > timedelta(seconds=3), "three heartbeat timeouts to pass")
        assert reconcile.run()["requeued"] == []
        assert Job.objects.get(pk=job.pk).heartbeat_at > first + timedelta(seconds=2)
    assert beats.verdict is Verdict.GO
    job.refresh_from_db()
    assert (job.status, job.attempt_token) == ("running", token)


@pytest.mark.slow
def test_a_worker_taken_for_dead_that_wakes_up_late_changes_nothing(teacher, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 1
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    dramatiq.get_broker().flush_all()
    late = transitions.claim_job(job.pk)  # worker A claims it ... and freezes (a long GC pause, a stopped VM)
    age(Job, job.pk, "heartbeat_at")
    assert reconcile.run()["requeued"] == [job.pk]

    holding_a = rendering.Holding(beat=lambda: transitions.beat_job(job.pk, late.attempt_token), report=None)
    with running_worker(threads=1):
        eventually(lambda: Job.objects.filter(pk=job.pk, attempts=2).exists(), "worker B to claim the job")
        with holding_a:  # A wakes up: its next heartbeat tells it the job is no longer its own
            eventually(holding_a.should_cancel, "worker A to learn it lost the job")
        assert holding_a.verdict is Verdict.LOST
        # A's renderer stops; what A does next must not touch the job B is rendering.
        rendering._after_job_error(late, late.attempt_token, renderer.CanceledError("canceled"), retries_left=True)
        assert not transitions.finish(late, Job.Status.FAILED, "render_failed", "late", token=late.attempt_token)
        job = wait_for(job)
    assert (job.status, job.error_message, job.attempts) == ("succeeded", "", 2)
    assert reservation_state(job) == "charged"


@pytest.mark.slow
def test_attempts_are_bounded_however_many_copies_of_the_message_exist(teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    default_storage.delete(portrait.file.name)  # every attempt fails the same transient way (storage lost a file)
    for _ in range(4):  # the reconciler (or a redelivery) sent copies, each with Dramatiq's full retry budget
        queue_messages.send_job(job.pk)
    with running_worker(threads=1) as worker:
        job = wait_for(job)
        dramatiq.get_broker().join(job.queue_name, timeout=30_000)  # every copy has been taken and dropped
        worker.join()
    assert (job.status, job.attempts) == ("failed", MAX_ATTEMPTS)
    assert reservation_state(job) == "refunded"
    assert set(JobStage.objects.filter(job=job).values_list("attempt", flat=True)) == {1, 2, 3}


def test_a_retry_waiting_for_its_backoff_is_not_sent_again(teacher):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    first_message = job.message_id or Job.objects.get(pk=job.pk).message_id
    default_storage.delete(portrait.file.name)
    with running_worker(threads=1):
        eventually(lambda: Job.objects.filter(pk=job.pk, attempts=1, status="queued").exists(), "a failed attempt")
        # Dramatiq re-sent it under a new id, with a backoff of a few seconds
        eventually(lambda: Job.objects.get(pk=job.pk).message_id != first_message, "the retry's id to be recorded")
    age(Job, job.pk, "created_at", "enqueued_at")
    assert reconcile.run()["resent"] == []
    broker = dramatiq.get_broker()
    assert broker.client.hexists(f"{broker.namespace}:{job.queue_name}.DQ.msgs", Job.objects.get(pk=job.pk).message_id)


@pytest.mark.slow
def test_submitting_while_redis_is_down_shows_the_job_and_the_reconciler_sends_it(teacher, client, monkeypatch):
    portrait, audio = fixture_inputs(teacher)
    client.force_login(teacher)
    pool = dramatiq.get_broker().client.connection_pool
    monkeypatch.setitem(pool.connection_kwargs, "port", _closed_port())  # Redis stops answering
    pool.reset()  # connections are made afresh, to the port where nothing listens
    response = client.post(
        reverse("jobs:new"),
        form_data(portrait, audio, action="submit"),
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == reverse("jobs:detail", args=[job.pk])
    assert client.get(response.url).status_code == 200
    assert (job.status, job.enqueued_at) == ("queued", None)

    monkeypatch.undo()  # Redis is back
    pool.reset()
    age(Job, job.pk, "created_at")
    assert reconcile.run()["resent"] == [job.pk]
    with running_worker(threads=1):
        assert wait_for(job).status == "succeeded"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_the_maintenance_loop_survives_a_failing_pass(tmp_path):
    """A pass that fails (here: the database refuses every connection) is logged; the loop goes on."""

    missing = urlsplit(settings.DATABASE_URL)._replace(path="/no_such_database").geturl()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "jobs_maintenance", "--every", "0.2"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": missing},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if sum("this pass failed" in seen for seen in lines) >= 3:
                break
        assert process.poll() is None, "".join(lines[-30:])
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert sum("this pass failed" in line for line in lines) >= 3
    assert any("no_such_database" in line for line in lines)
    assert sum("the database is away" in line for line in lines) == 1, "said once, not on every pass"


@pytest.mark.slow
def test_the_maintenance_loop_stops_cleanly_when_told_to(transactional_db):
    """SIGTERM (what Kubernetes sends the scheduler on a deploy) ends the loop after its pass, with status 0."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "jobs_maintenance", "--every", "30"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "SONIC_TEST_NAMESPACE": settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"],
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = process.stdout.readline()
        assert "a pass every 30 s" in started, started
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, output[-3000:]
    assert "jobs_maintenance: stopped" in output


@pytest.mark.slow
def test_a_lecture_canceled_midway_and_retried_by_support_renders_whole(teacher, settings):
    settings.SEGMENT_SECONDS = 2.0
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    with running_worker(threads=1):
        eventually(lambda: JobSegment.objects.filter(job=job, status="done").exists(), "a first part")
        services.cancel(job)
        job = wait_for(job)
        assert job.status == "canceled" and reservation_state(job) == "refunded"
        assert not job.poster and not job.segments.exclude(output="").exists(), "what was made of it is gone"
        job = wait_for(services.retry(job), timeout=240)
    assert job.status == "succeeded", (job.error_code, job.error_message)
    assert job.attempts == 1 and reservation_state(job) == "charged"
    assert abs(job.output_duration_seconds - audio.duration_seconds) < 0.05
