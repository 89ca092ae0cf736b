"""The database away for a while (a restart, a failover) while work renders: it costs no attempt and leaves no file
without a row. Renders keep going through failed progress reports, what a finished attempt records waits for the
database (and is not repeated if only the answer to its COMMIT was lost), and the maintenance loop takes nobody for
dead whose heartbeat nobody could write. `manage.py fault_drill db-outage` does the same with real processes."""

import io
from datetime import timedelta

import dramatiq
import pytest
from django.core import mail
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from portal.jobs import rendering, services, transitions
from portal.jobs.models import Job, JobSegment
from portal.jobs.signals import job_finished
from portal.jobs.transitions import Verdict
from portal.management.commands import jobs_maintenance
from tests.jobs_helpers import fixture_inputs, reservation_state

FAST = {"resolution": 256}
AWAY = OperationalError("connection failed: connection to server at 127.0.0.1, port 5432 failed: Connection refused")


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(rendering, "DATABASE_RETRY_SECONDS", 0.0)


def test_a_progress_report_the_database_refuses_does_not_stop_the_render():
    def report(fraction, stage):
        raise AWAY

    holding = rendering.Holding(beat=lambda: Verdict.GO, report=report)
    holding.progress(0.5, "render_frames")  # raised into the renderer before, which ended the attempt
    assert not holding.should_cancel()
    holding.check()


def test_recording_waits_for_the_database_and_is_not_repeated_when_only_the_answer_was_lost(quick_retries):
    tries = []

    def write():
        tries.append(1)
        if len(tries) < 3:
            raise AWAY
        return True

    assert rendering.recorded(write) is True and len(tries) == 3

    committed = []

    def commit_then_lose_the_answer():
        committed.append(1)
        raise AWAY

    assert rendering.recorded(commit_then_lose_the_answer, committed=lambda: bool(committed)) is True
    assert committed == [1], "what committed is not done a second time"


def test_recording_gives_up_after_a_while(quick_retries, monkeypatch):
    monkeypatch.setattr(rendering, "DATABASE_WAIT_SECONDS", 0.0)

    def write():
        raise AWAY

    with pytest.raises(OperationalError):
        rendering.recorded(write)


def _split_lecture(teacher, settings):
    settings.SEGMENT_SECONDS = 2.0
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    dramatiq.get_broker().flush_all()
    rendering.render_job(job.pk)
    return Job.objects.get(pk=job.pk)


@pytest.mark.parametrize("lost", ["before the commit", "only the answer to the commit"])
def test_a_part_rendered_while_the_database_was_away_is_kept(teacher, settings, monkeypatch, quick_retries, lost):
    job = _split_lecture(teacher, settings)
    real_part_done, calls = transitions.part_done, []

    def part_done(*args, **kwargs):  # the database goes away as the rendered part is recorded
        calls.append(1)
        if len(calls) == 1:
            if lost == "only the answer to the commit":
                real_part_done(*args, **kwargs)
            raise AWAY
        return real_part_done(*args, **kwargs)

    monkeypatch.setattr(transitions, "part_done", part_done)
    rendering.render_segment(job.pk, 0)

    part = JobSegment.objects.get(job=job, index=0)
    job.refresh_from_db()
    assert (part.status, part.attempts, part.attempt_token) == ("done", 1, None)
    assert part.output and job.poster and job.renderer_version, "the part, the poster and the job's facts are kept"
    call_command("storage_audit", "--grace-minutes", "0", stdout=io.StringIO())  # raises on an orphan or a lost file


@pytest.mark.slow
def test_a_video_rendered_while_the_database_was_away_is_kept_and_charged_once(teacher, monkeypatch, quick_retries):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)
    real_finish, calls = transitions.finish, []

    def finish(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise AWAY
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(transitions, "finish", finish)
    rendering.render_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert reservation_state(job) == "charged"
    call_command("storage_audit", "--grace-minutes", "0", stdout=io.StringIO())


def test_a_listener_that_fails_after_the_commit_does_not_undo_the_end_of_a_job(teacher, settings):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, FAST)

    def database_gone(sender, job_id, **kwargs):
        raise AWAY

    job_finished.connect(database_gone)
    try:
        assert transitions.finish(job, Job.Status.FAILED, "render_failed", transitions.GAVE_UP) is True
    finally:
        job_finished.disconnect(database_gone)
    job.refresh_from_db()
    assert job.status == "failed" and reservation_state(job) == "refunded"
    assert [email.to for email in mail.outbox] == [[teacher.email]], "the owner is told all the same"


def test_after_the_database_was_away_nobody_is_taken_for_dead_until_workers_could_beat(teacher, settings):
    job = _split_lecture(teacher, settings)
    settings.JOB_HEARTBEAT_TIMEOUT = 30
    part = transitions.claim_part(job.pk, 0)
    token = part.attempt_token
    JobSegment.objects.filter(pk=part.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))
    loop = jobs_maintenance.Command(stdout=io.StringIO())
    loop.database_away, loop.heartbeats_judged_from = True, 0.0  # the last pass found the database away

    loop.run_once()  # it is back: the worker's heartbeat, written at most a few seconds from now, is not awaited
    part.refresh_from_db()
    assert (part.status, part.attempt_token) == ("running", token)

    loop.database_away = False
    loop.heartbeats_judged_from -= 30  # JOB_HEARTBEAT_TIMEOUT later, still silent: that worker is dead
    loop.run_once()
    part.refresh_from_db()
    assert (part.status, part.attempt_token) == ("queued", None)
