"""The gauges the alerts in deploy/observability/ read from /metrics: how long work has waited in each render queue,
renders whose worker stopped heartbeating, webhook deliveries failing, what the latest storage_audit found (the
render-time ledger included), and whether the database and Redis answered the scrape."""

import uuid
from datetime import timedelta
from io import StringIO

import dramatiq
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from dramatiq.brokers.redis import RedisBroker

from billing import quota
from billing.models import UsagePeriod
from portal.jobs.models import Job, JobSegment, WebhookDelivery
from portal.models import StorageAuditRun
from tests.factories import make_user
from tests.jobs_helpers import finished_job
from tests.metrics_helpers import TOKEN, labels, series


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def test_how_long_the_oldest_work_has_waited_in_each_render_queue(scrape, owner):
    queued = finished_job(owner, status=Job.Status.QUEUED, queue_name="builtin-paid", video=None)
    Job.objects.filter(pk=queued.pk).update(enqueued_at=ago(300))
    finished_job(owner, status=Job.Status.QUEUED, queue_name="builtin-paid", video=None, enqueued_at=ago(30))
    # A job whose message never went (the send failed) has waited since it was made.
    unsent = finished_job(owner, status=Job.Status.QUEUED, queue_name="sonic-paid", video=None)
    Job.objects.filter(pk=unsent.pk).update(created_at=ago(90), enqueued_at=None)
    # A lecture: one part waits, one renders; another lecture's parts are all done and it waits for its join.
    lecture = finished_job(
        owner, status=Job.Status.RUNNING, queue_name="builtin-free", segment_count=2, video=None, enqueued_at=ago(3600)
    )
    JobSegment.objects.create(
        job=lecture, index=0, start_seconds=0, end_seconds=60, status=JobSegment.Status.QUEUED, enqueued_at=ago(120)
    )
    JobSegment.objects.create(
        job=lecture, index=1, start_seconds=60, end_seconds=95, status=JobSegment.Status.RUNNING, enqueued_at=ago(1800)
    )
    joining = finished_job(
        owner, status=Job.Status.RUNNING, queue_name="sonic-free", segment_count=1, video=None, enqueued_at=ago(600)
    )
    JobSegment.objects.create(job=joining, index=0, start_seconds=0, end_seconds=60, status=JobSegment.Status.DONE)
    # Finished and running work waits for nothing.
    finished_job(owner, status=Job.Status.SUCCEEDED, queue_name="builtin-paid", enqueued_at=ago(7200))
    finished_job(
        owner,
        status=Job.Status.RUNNING,
        queue_name="builtin-paid",
        attempt_token=uuid.uuid4(),
        enqueued_at=ago(7200),
        video=None,
    )

    waited = series(scrape(), "portal_queue_oldest_waiting_seconds")
    assert set(waited) == {
        labels(queue=queue) for queue in ("builtin-paid", "builtin-free", "sonic-paid", "sonic-free")
    }
    assert waited[labels(queue="builtin-paid")] == pytest.approx(300, abs=10)
    assert waited[labels(queue="sonic-paid")] == pytest.approx(90, abs=10)
    assert waited[labels(queue="builtin-free")] == pytest.approx(120, abs=10)
    assert waited[labels(queue="sonic-free")] == pytest.approx(600, abs=10)

    Job.objects.filter(status=Job.Status.QUEUED).update(status=Job.Status.CANCELED)
    JobSegment.objects.filter(job=joining).update(status=JobSegment.Status.QUEUED, enqueued_at=ago(5))
    JobSegment.objects.filter(job=lecture).delete()
    waited = series(scrape(), "portal_queue_oldest_waiting_seconds")
    assert waited[labels(queue="builtin-paid")] == 0 and waited[labels(queue="sonic-paid")] == 0
    assert waited[labels(queue="sonic-free")] == pytest.approx(5, abs=5)  # its part waits, not its join


def test_renders_whose_worker_stopped_heartbeating_by_machine(scrape, owner, settings):
    settings.JOB_HEARTBEAT_TIMEOUT = 120
    running = dict(status=Job.Status.RUNNING, video=None, attempt_token=uuid.uuid4())
    finished_job(owner, worker_host="gpu-1:101", heartbeat_at=ago(600), **running)
    finished_job(owner, worker_host="gpu-1:202", heartbeat_at=ago(130), **running)
    finished_job(owner, worker_host="gpu-2:7", heartbeat_at=ago(10), **running)  # alive
    finished_job(owner, worker_host="gpu-3:7", heartbeat_at=ago(600), status=Job.Status.FAILED, video=None)
    lecture = finished_job(
        owner, worker_host="cpu-2:7", segment_count=2, heartbeat_at=ago(900), **{**running, "attempt_token": None}
    )  # its parts render: it is not judged itself
    JobSegment.objects.create(
        job=lecture,
        index=0,
        start_seconds=0,
        end_seconds=60,
        status=JobSegment.Status.RUNNING,
        worker_host="cpu-3:9",
        heartbeat_at=ago(400),
    )
    JobSegment.objects.create(
        job=lecture,
        index=1,
        start_seconds=60,
        end_seconds=95,
        status=JobSegment.Status.RUNNING,
        worker_host="cpu-4:9",
        heartbeat_at=ago(5),
    )

    assert series(scrape(), "portal_renders_heartbeat_lost") == {labels(host="gpu-1"): 2, labels(host="cpu-3"): 1}

    # The maintenance loop queues them again: nothing is lost any more.
    call_command("jobs_maintenance", stdout=StringIO())
    assert series(scrape(), "portal_renders_heartbeat_lost") == {}


def test_webhook_deliveries_by_status_and_those_failing(scrape, owner):
    other = make_user("other@example.com")

    def delivery(user, status, attempts=0):
        return WebhookDelivery.objects.create(
            owner=user,
            event="job.succeeded",
            url="https://example.com/hook",
            payload={},
            status=status,
            attempts=attempts,
        )

    delivery(owner, WebhookDelivery.Status.DELIVERED, 1)
    delivery(owner, WebhookDelivery.Status.DELIVERED, 3)
    delivery(owner, WebhookDelivery.Status.FAILED, 9)
    delivery(owner, WebhookDelivery.Status.PENDING, 0)  # not tried yet
    delivery(owner, WebhookDelivery.Status.PENDING, 2)
    delivery(owner, WebhookDelivery.Status.PENDING, 1)
    delivery(other, WebhookDelivery.Status.PENDING, 4)

    body = scrape()
    assert series(body, "portal_webhook_deliveries") == {
        labels(status="pending"): 4,
        labels(status="delivered"): 2,
        labels(status="failed"): 1,
        labels(status="canceled"): 0,
    }
    assert series(body, "portal_webhook_deliveries_retrying") == {labels(): 3}
    assert series(body, "portal_webhook_accounts_failing") == {labels(): 2}


def audit(**options) -> str:
    out = StringIO()
    call_command("storage_audit", grace_minutes=0, stdout=out, **options)
    return out.getvalue()


def test_the_latest_storage_audit_is_on_metrics(scrape, owner):
    assert series(scrape(), "portal_storage_audit_last_run_timestamp_seconds") == {}  # never ran

    assert "0 usage periods disagree with their reservations, 0 finished jobs hold render time" in audit()
    body = scrape()
    (ran_at,) = series(body, "portal_storage_audit_last_run_timestamp_seconds").values()
    assert ran_at == pytest.approx(timezone.now().timestamp(), abs=30)
    assert series(body, "portal_storage_audit_problems") == {
        labels(kind=kind): 0 for kind in StorageAuditRun.PROBLEM_KINDS
    }

    # A file nobody points at, a job whose video is gone, a period charged more than its reservations, and a
    # finished job whose render time is still held.
    default_storage.save(f"users/{owner.pk}/renders/left-behind.mp4", ContentFile(b"video"))
    lost = finished_job(owner)
    default_storage.delete(lost.output.name)
    reservation = quota.reserve_seconds(owner, 10, job_ref="held-forever")
    finished_job(owner, status=Job.Status.FAILED, video=None, reservation=reservation)
    UsagePeriod.objects.filter(user=owner).update(used_seconds=25)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("storage_audit", grace_minutes=0, stdout=out)
    report = out.getvalue()
    assert "1 with no row, 1 rows with no file" in report
    assert "used, 0 s charged; 10 s reserved, 10 s held" in report and " 25 s used" in report
    assert "1 usage periods disagree with their reservations, 1 finished jobs hold render time" in report

    problems = series(scrape(), "portal_storage_audit_problems")
    assert problems == {
        labels(kind="file_without_row"): 1,
        labels(kind="row_without_file"): 1,
        labels(kind="quota_ledger_mismatch"): 1,
        labels(kind="quota_held_by_finished_job"): 1,
    }

    # Deleting the orphans leaves none to report.
    with pytest.raises(CommandError):
        audit(delete_orphans=True)
    assert series(scrape(), "portal_storage_audit_problems")[labels(kind="file_without_row")] == 0


def test_the_ledger_check_follows_reserve_charge_and_refund(owner):
    charged = quota.reserve_seconds(owner, 12, job_ref="a")
    quota.charge(charged, seconds=7)
    quota.refund(quota.reserve_seconds(owner, 5, job_ref="b"))
    quota.refund(quota.charge(quota.reserve_seconds(owner, 9, job_ref="c")))
    quota.reserve_seconds(owner, 4, job_ref="d")  # still held by a job that has not finished
    assert "0 usage periods disagree" in audit()
    period = UsagePeriod.objects.get(user=owner)
    assert (period.used_seconds, period.reserved_seconds) == (7, 4)


def test_old_audit_results_are_forgotten(db):
    old = StorageAuditRun.objects.create(files=1, referenced=1, finished_at=ago(91 * 86400))
    recent = StorageAuditRun.objects.create(files=1, referenced=1, finished_at=ago(30 * 86400))
    audit()
    assert not StorageAuditRun.objects.filter(pk=old.pk).exists()
    assert StorageAuditRun.objects.filter(pk=recent.pk).exists() and StorageAuditRun.objects.count() == 2


def test_tells_which_source_did_not_answer(scrape):
    assert series(scrape(), "portal_metrics_source_up") == {labels(source="database"): 1, labels(source="redis"): 1}

    working = dramatiq.get_broker()
    dramatiq.set_broker(RedisBroker(url="redis://127.0.0.1:1/0", namespace="nowhere"))
    try:
        body = scrape()
    finally:
        dramatiq.set_broker(working)
    assert series(body, "portal_metrics_source_up") == {labels(source="database"): 1, labels(source="redis"): 0}
    assert series(body, "portal_queue_messages") == {}
    assert series(body, "portal_queue_oldest_waiting_seconds")  # read from the database, still there


@pytest.mark.slow
def test_without_the_database_it_says_so_and_still_answers(transactional_db, client, settings):
    """PostgreSQL refusing connections (a port nothing listens on): the database gauges go, the scrape stays, and
    portal_metrics_source_up says why they went, at the cost of one refused connection, not one per gauge."""
    from django.db import connection

    settings.METRICS_TOKEN = TOKEN
    client.get("/healthz")
    port, connects = connection.settings_dict["PORT"], []
    connection.close()
    connection.settings_dict["PORT"] = "1"
    real_connect = connection.get_new_connection

    def counted(params):
        connects.append(1)
        return real_connect(params)

    connection.get_new_connection = counted
    try:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    finally:
        del connection.get_new_connection
        connection.settings_dict["PORT"] = port
        connection.close()
    assert response.status_code == 200
    body = response.content.decode()
    assert series(body, "portal_metrics_source_up") == {labels(source="database"): 0, labels(source="redis"): 1}
    for gauge in ("portal_jobs", "portal_queue_oldest_waiting_seconds", "portal_storage_audit_problems"):
        assert series(body, gauge) == {}
    assert series(body, "portal_queue_messages")  # from Redis
    assert series(body, "portal_http_requests_total")[labels(method="GET", view="healthz", status="200")] >= 1
    assert len(connects) == 1
