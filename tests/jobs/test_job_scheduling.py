"""Fair scheduling: a long lecture's parts go to the queue a few at a time, so other users of the same tier are not
made to wait until the whole lecture is rendered; paid work never waits behind free work."""

from datetime import timedelta

import pytest

from portal.jobs import services
from portal.jobs.models import Job, JobSegment
from tests.factories import make_user, running_worker
from tests.jobs_helpers import eventually, give_plan, speech_inputs, wait_for

FAST = {"resolution": 256}


@pytest.fixture
def fair(transactional_db, settings):
    settings.SEGMENT_SECONDS, settings.PARTS_WAITING = 2.0, 2


def parts_started_between(job: Job, start, end) -> list[int]:
    return list(
        JobSegment.objects.filter(job=job, started_at__gt=start, started_at__lt=end).values_list("index", flat=True)
    )


@pytest.mark.slow
def test_a_short_job_does_not_wait_for_a_whole_lecture_of_the_same_tier(fair):
    lecturer, other = make_user("lecturer@example.com"), make_user("other@example.com")
    give_plan(lecturer, "teacher"), give_plan(other, "teacher")
    lecture = services.submit(lecturer, *speech_inputs(lecturer, 24.0), FAST)
    short_inputs = speech_inputs(other, 1.5)
    with running_worker(threads=1):
        eventually(lambda: JobSegment.objects.filter(job=lecture, status="running").exists(), "the lecture's parts")
        short = services.submit(other, *short_inputs, FAST)
        short = wait_for(short)
        lecture = wait_for(lecture, timeout=300)
    assert (short.status, lecture.status) == ("succeeded", "succeeded")
    assert lecture.segment_count >= 10
    overtaken = parts_started_between(lecture, short.created_at, short.started_at)
    assert len(overtaken) <= 2, f"parts {overtaken} started while the short job waited"
    assert short.started_at < lecture.finished_at


@pytest.mark.slow
def test_paid_work_never_waits_behind_free_work(fair):
    free, paid = make_user("free@example.com"), make_user("paid@example.com")
    give_plan(paid, "teacher")
    lecture = services.submit(free, *speech_inputs(free, 12.0), FAST)
    paid_inputs = speech_inputs(paid, 1.5)
    with running_worker(threads=1):
        eventually(lambda: JobSegment.objects.filter(job=lecture, status="running").exists(), "the lecture's parts")
        job = wait_for(services.submit(paid, *paid_inputs, FAST))
        lecture = wait_for(lecture, timeout=300)
    assert (job.queue_name, lecture.queue_name) == ("builtin-paid", "builtin-free")
    # The worker learns of the paid message within its poll (worker_timeout, 100 ms) of the send; a free part that
    # starts inside that moment was already the worker's next. Any later one would have jumped the paid job.
    in_the_workers_hands = job.enqueued_at + timedelta(seconds=0.5)
    assert parts_started_between(lecture, in_the_workers_hands, job.started_at) == [], "a free part went first"
