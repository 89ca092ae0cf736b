"""The web's /metrics (only with "Authorization: Bearer <METRICS_TOKEN>"): what this process counted
(portal/metrics.py) and gauges read from the database and Redis when Prometheus scrapes, so they are right whichever
process or machine changed them, and cost nothing in between:
- portal_jobs, portal_queue_messages and portal_worker_renders_running;
- for alerts (deploy/observability/prometheus-rules.yaml): portal_queue_oldest_waiting_seconds,
  portal_renders_heartbeat_lost, portal_webhook_deliveries (and _retrying, portal_webhook_accounts_failing),
  portal_storage_audit_last_run_timestamp_seconds and portal_storage_audit_problems (what the latest
  `manage.py storage_audit` found), and portal_metrics_source_up: whether the database and Redis answered this
  scrape (while one does not, the gauges read from it are missing, and so are the alerts on them).
"""

import hmac
import logging
import os
from collections import Counter
from datetime import timedelta
from functools import partial
from itertools import chain

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Min
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

from portal import metrics, queue
from portal.jobs.models import Job, JobSegment, WebhookDelivery
from portal.models import StorageAuditRun

logger = logging.getLogger(__name__)


@never_cache
def scrape(request):
    """Prometheus' scrape target. Without METRICS_TOKEN set, or without that token as a bearer token, it answers 404
    like any unknown URL: the public learns nothing, not even that the endpoint exists."""
    expected = settings.METRICS_TOKEN
    supplied = request.headers.get("Authorization", "")
    if not expected or not hmac.compare_digest(supplied.encode(), f"Bearer {expected}".encode()):
        raise Http404
    import prometheus_client as prom
    from prometheus_client import multiprocess

    registry = prom.CollectorRegistry()
    shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared_dir:  # gunicorn: this process answers for all of them, each of which wrote its file there
        multiprocess.MultiProcessCollector(registry, path=shared_dir)
    else:
        made = metrics.made()
        for metric in (made.requests, made.latency, made.render_seconds, made.render_rtf):
            registry.register(metric)
    sources = _Sources()
    readers = (
        _jobs,
        _queue_messages,
        _worker_renders_running,
        _queue_oldest_waiting,
        _heartbeats_lost,
        _webhook_deliveries,
        _storage_audit,
    )
    # The registry collects in the order of registration: the sources' health comes after every read of them.
    for read in (*readers, _sources_up):
        registry.register(_ReadAtScrape(partial(read, sources)))
    return HttpResponse(prom.generate_latest(registry), content_type=prom.CONTENT_TYPE_LATEST)


class _ReadAtScrape:
    """A collector whose samples `read` computes at each scrape."""

    def __init__(self, read):
        self.collect = read


class _Sources:
    """Which sources (the database, Redis) the gauges of one scrape read, and which of them failed to answer."""

    def __init__(self):
        self.read, self.failed = {"database"}, set()

    def failure(self, source: str, what: str) -> None:
        logger.warning("metrics: could not read %s", what, exc_info=True)
        self.failed.add(source)

    def away(self, source: str) -> bool:
        """Whether an earlier read of this scrape found `source` away: the later ones do not wait for it again."""
        return source in self.failed


def _sources_up(sources: _Sources):
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(
        "portal_metrics_source_up",
        "1 when the source answered every read of this scrape, 0 when some read failed (its gauges are missing).",
        labels=["source"],
    )
    for source in sorted(sources.read):
        family.add_metric([source], 0 if source in sources.failed else 1)
    yield family


def _jobs(sources: _Sources):
    from prometheus_client.core import GaugeMetricFamily

    try:
        rows = list(Job.objects.order_by().values_list("status", "error_code", "queue_name").annotate(Count("pk")))
    except DatabaseError:  # the request metrics are still worth a scrape
        sources.failure("database", "the jobs")
        return
    family = GaugeMetricFamily(
        "portal_jobs",
        "Jobs in the database by status, error code and queue. Finished jobs stay counted: an increase is a rate.",
        labels=["status", "error_code", "queue"],
    )
    for status, error_code, queue_name, count in rows:
        family.add_metric([status, error_code, queue_name], count)
    yield family


def _queue_messages(sources: _Sources):
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
    from prometheus_client.core import GaugeMetricFamily

    broker = dramatiq.get_broker()
    if not isinstance(broker, RedisBroker):
        return
    sources.read.add("redis")
    # The Redis keys of dramatiq's broker (brokers/redis/dispatch.lua): the list of messages no worker has taken,
    # the delay queue's messages (retries waiting for their backoff) and the dead-letter set (kept for 7 days).
    queues = sorted(queue.queue_names())
    pipeline = broker.client.pipeline(transaction=False)
    for queue_name in queues:
        key = f"{broker.namespace}:{queue_name}"
        pipeline.llen(key)
        pipeline.hlen(f"{key}.DQ.msgs")
        pipeline.zcard(f"{key}.XQ")
    try:
        counts = pipeline.execute()
    except RedisError:
        sources.failure("redis", "the queue lengths")
        return
    family = GaugeMetricFamily(
        "portal_queue_messages",
        "Messages in each Dramatiq queue: waiting for a worker, delayed (retries before their time) or dead-lettered.",
        labels=["queue", "state"],
    )
    for index, queue_name in enumerate(queues):
        for state, count in zip(("waiting", "delayed", "dead"), counts[3 * index : 3 * index + 3], strict=True):
            family.add_metric([queue_name, state], count)
    yield family


def _worker_renders_running(sources: _Sources):

    if sources.away("database"):
        return
    try:
        # A long job is rendered as parts, each on its own worker; the job's own worker_host only planned them.
        whole_jobs = Job.objects.filter(status=Job.Status.RUNNING, segment_count=0).values_list("worker_host")
        parts = JobSegment.objects.filter(status=JobSegment.Status.RUNNING, job__status=Job.Status.RUNNING).values_list(
            "worker_host"
        )
        hosts = _count_by_host(whole_jobs, parts)
    except DatabaseError:
        sources.failure("database", "the running renders")
        return
    yield _by_host(
        "portal_worker_renders_running",
        "Renders (whole jobs or parts) running now on each worker machine, as the database records them.",
        hosts,
    )


def _count_by_host(*worker_hosts) -> Counter:
    """How many of these rows (querysets of worker_host values) each worker machine holds."""
    return Counter(_host(worker_host) for (worker_host,) in chain(*worker_hosts))


def _by_host(name: str, documentation: str, hosts: Counter):
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, documentation, labels=["host"])
    for host, count in sorted(hosts.items()):
        family.add_metric([host], count)
    return family


def _queue_oldest_waiting(sources: _Sources):
    from prometheus_client.core import GaugeMetricFamily

    if sources.away("database"):
        return
    # Work waiting in a render queue, since its message was sent (enqueued_at, set at each send): queued jobs (one
    # whose send failed since it was made), queued parts of lectures, and lectures whose parts are all done, waiting
    # for their join. The other queues' work (webhooks, upload checks) has no such time in the database;
    # portal_queue_messages counts it.
    not_done = [status for status in JobSegment.Status if status != JobSegment.Status.DONE]
    waiting = (
        (Job.objects.filter(status=Job.Status.QUEUED), "queue_name", Coalesce("enqueued_at", "created_at")),
        (
            JobSegment.objects.filter(status=JobSegment.Status.QUEUED, job__status=Job.Status.RUNNING),
            "job__queue_name",
            F("enqueued_at"),
        ),
        (
            Job.objects.filter(status=Job.Status.RUNNING, attempt_token__isnull=True, segment_count__gt=0).exclude(
                segments__status__in=not_done
            ),
            "queue_name",
            F("enqueued_at"),
        ),
    )
    now = timezone.now()
    oldest = dict.fromkeys(queue.RENDER_QUEUES, now)
    try:
        for rows, queue_field, sent_at in waiting:
            for queue_name, since in rows.order_by().values_list(queue_field).annotate(since=Min(sent_at)):
                if since is not None:
                    oldest[queue_name] = min(oldest.get(queue_name, now), since)
    except DatabaseError:
        sources.failure("database", "the oldest waiting work")
        return
    family = GaugeMetricFamily(
        "portal_queue_oldest_waiting_seconds",
        "Seconds the oldest work in each render queue (a job, a lecture's part or its join) has waited for a worker "
        "since its message was sent; 0 when nothing waits.",
        labels=["queue"],
    )
    for queue_name, since in sorted(oldest.items()):
        family.add_metric([queue_name], max((now - since).total_seconds(), 0.0))
    yield family


def _heartbeats_lost(sources: _Sources):

    if sources.away("database"):
        return
    # What the maintenance loop (portal/jobs/reconcile.py) takes for dead and queues again on its next pass: these
    # last longer than a pass only while the loop is not running, or cannot reach the database or Redis.
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)
    try:
        jobs = Job.objects.filter(status=Job.Status.RUNNING, attempt_token__isnull=False, heartbeat_at__lt=stale_before)
        parts = JobSegment.objects.filter(
            status=JobSegment.Status.RUNNING, heartbeat_at__lt=stale_before, job__status=Job.Status.RUNNING
        )
        hosts = _count_by_host(jobs.values_list("worker_host"), parts.values_list("worker_host"))
    except DatabaseError:
        sources.failure("database", "the heartbeats")
        return
    yield _by_host(
        "portal_renders_heartbeat_lost",
        "Renders, splits and joins (whole jobs or parts) still running in the database whose worker has not "
        "written a heartbeat for JOB_HEARTBEAT_TIMEOUT seconds, by the worker machine that last held them.",
        hosts,
    )


def _webhook_deliveries(sources: _Sources):
    from prometheus_client.core import GaugeMetricFamily

    if sources.away("database"):
        return
    try:
        by_status = dict(WebhookDelivery.objects.order_by().values_list("status").annotate(Count("pk")))
        retrying = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, attempts__gte=1).aggregate(
            deliveries=Count("pk"), accounts=Count("owner", distinct=True)
        )
    except DatabaseError:
        sources.failure("database", "the webhook deliveries")
        return
    family = GaugeMetricFamily(
        "portal_webhook_deliveries",
        "Webhook deliveries in the database by status: pending, delivered, failed (gave up after every retry), "
        "canceled (the webhook was removed). Finished ones stay counted until their account is deleted.",
        labels=["status"],
    )
    for status in WebhookDelivery.Status:
        family.add_metric([status.value], by_status.get(status.value, 0))
    yield family
    yield GaugeMetricFamily(
        "portal_webhook_deliveries_retrying",
        "Webhook deliveries still pending after at least one failed attempt (waiting for a retry, or being tried).",
        value=retrying["deliveries"],
    )
    yield GaugeMetricFamily(
        "portal_webhook_accounts_failing",
        "Accounts with a webhook delivery still pending after at least one failed attempt.",
        value=retrying["accounts"],
    )


def _storage_audit(sources: _Sources):
    from prometheus_client.core import GaugeMetricFamily

    if sources.away("database"):
        return
    try:
        latest = StorageAuditRun.objects.order_by("-finished_at").first()
    except DatabaseError:
        sources.failure("database", "the latest storage audit")
        return
    if latest is None:  # never run: the alert on a stale audit fires on the missing timestamp
        return
    yield GaugeMetricFamily(
        "portal_storage_audit_last_run_timestamp_seconds",
        "When the latest `manage.py storage_audit` finished (Unix time).",
        value=latest.finished_at.timestamp(),
    )
    family = GaugeMetricFamily(
        "portal_storage_audit_problems",
        "What the latest storage_audit found, by kind: file_without_row, row_without_file, quota_ledger_mismatch "
        "(usage periods whose counters disagree with their reservations), quota_held_by_finished_job.",
        labels=["kind"],
    )
    for kind in StorageAuditRun.PROBLEM_KINDS:
        family.add_metric([kind], latest.problems.get(kind, 0))
    yield family


def _host(worker_host: str) -> str:
    """'gpu-1:4242' -> 'gpu-1': a process id would start a new series at every worker restart."""
    host, _, pid = worker_host.rpartition(":")
    return host if host and pid.isdigit() else worker_host
