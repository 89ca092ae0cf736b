"""Prometheus metrics: the web's /metrics endpoint, the request middleware, and what workers record of renders.

/metrics (only with "Authorization: Bearer <METRICS_TOKEN>") shows
- portal_http_requests_total and portal_http_request_duration_seconds, by method, view name and status. View names,
  never paths: paths carry ids, and every distinct label value becomes a time series of its own;
- portal_jobs, portal_queue_messages and portal_worker_renders_running, read from the database and Redis when
  Prometheus scrapes, so they are right whichever process or machine changed them, and cost nothing in between.

Workers call observe_render(); portal_render_seconds and portal_render_rtf then appear on the port where Dramatiq's
Prometheus middleware exposes the worker's metrics (9191), next to its dramatiq_* message metrics.

Several processes (gunicorn's workers, Dramatiq's worker processes) share metrics through prometheus_client's
multiprocess mode: one file per process in PROMETHEUS_MULTIPROC_DIR, summed when scraped. prometheus_client picks
that mode or plain in-memory values once, when it is first imported, from that variable. Dramatiq's middleware sets
the variable only when a worker process boots, after Django (the admin, the jobs code, perhaps this module) has
loaded, so this module imports prometheus_client only when a metric is first used.
"""

import hmac
import logging
import os
import threading
import time
from collections import Counter
from itertools import chain
from types import SimpleNamespace

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Anything else a client sends as a method is counted as "other", so nobody can mint new series at will.
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A render lasts from seconds (a short clip on a GPU) up to the 30-minute time limit of one message.
RENDER_SECONDS_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)
# Render time over audio time: the builtin engine on a CPU is about 0.1, Sonic may need several times real time.
RTF_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)

_made: SimpleNamespace | None = None
_making = threading.Lock()


def _metrics() -> SimpleNamespace:
    """This process's metric objects, made on first use (see the module docstring for why not at import)."""
    global _made
    with _making:
        if _made is None:
            import prometheus_client as prom

            # registry=None: scrape() chooses what to show, this process's values or every process's files.
            _made = SimpleNamespace(
                requests=prom.Counter(
                    "portal_http_requests", "HTTP requests answered, by method, view name and status.",
                    ["method", "view", "status"], registry=None,
                ),
                latency=prom.Histogram(
                    "portal_http_request_duration_seconds", "Seconds until a response was ready, by method and view.",
                    ["method", "view"], registry=None,
                ),
                render_seconds=prom.Histogram(
                    "portal_render_seconds", "Seconds of successful renders (whole jobs or parts of long ones).",
                    ["backend", "queue"], buckets=RENDER_SECONDS_BUCKETS, registry=None,
                ),
                render_rtf=prom.Histogram(
                    "portal_render_rtf", "Real-time factor of successful renders: render seconds per audio second.",
                    ["backend", "queue"], buckets=RTF_BUCKETS, registry=None,
                ),
            )
    return _made


def observe_render(*, backend: str, queue: str, render_seconds: float, audio_seconds: float) -> None:
    """Record one successful render, a whole job or one part of a long one, in the worker that did it.

    render_seconds: wall-clock time of the render; audio_seconds: the audio it covered (the job's
    audio_duration_seconds, or end_seconds - start_seconds of the part).
    """
    metrics = _metrics()
    try:
        metrics.render_seconds.labels(backend, queue).observe(render_seconds)
        if audio_seconds > 0:
            metrics.render_rtf.labels(backend, queue).observe(render_seconds / audio_seconds)
    except OSError:  # the multiprocess directory was removed under us: a lost sample must not fail the render
        logger.warning("could not record render metrics", exc_info=True)


def request_metrics(get_response):
    """Django middleware, first in MIDDLEWARE so that it times and sees what all the others do."""
    shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared_dir:  # a missing directory would fail every request, so make it before the first one
        os.makedirs(shared_dir, exist_ok=True)

    def middleware(request):
        started = time.perf_counter()
        response = get_response(request)
        seconds = time.perf_counter() - started
        method = request.method if request.method in HTTP_METHODS else "other"
        match = request.resolver_match
        # Unrouted: answered before URL routing (static files, redirects to HTTPS or to a trailing slash) or no route.
        view = match.view_name if match else "unrouted"
        metrics = _metrics()
        metrics.requests.labels(method, view, str(response.status_code)).inc()
        metrics.latency.labels(method, view).observe(seconds)
        return response

    return middleware


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
        metrics = _metrics()
        for metric in (metrics.requests, metrics.latency, metrics.render_seconds, metrics.render_rtf):
            registry.register(metric)
    for read in (_jobs, _queue_messages, _worker_renders_running):
        registry.register(_ReadAtScrape(read))
    return HttpResponse(prom.generate_latest(registry), content_type=prom.CONTENT_TYPE_LATEST)


class _ReadAtScrape:
    """A collector whose samples `read` computes at each scrape."""

    def __init__(self, read):
        self.collect = read


def _jobs():
    from prometheus_client.core import GaugeMetricFamily

    from portal.jobs.models import Job

    try:
        rows = list(
            Job.objects.order_by().values_list("status", "error_code", "queue_name").annotate(Count("pk"))
        )
    except DatabaseError:  # the request metrics are still worth a scrape
        logger.warning("metrics: could not count jobs", exc_info=True)
        return
    family = GaugeMetricFamily(
        "portal_jobs",
        "Jobs in the database by status, error code and queue. Finished jobs stay counted: an increase is a rate.",
        labels=["status", "error_code", "queue"],
    )
    for status, error_code, queue, count in rows:
        family.add_metric([status, error_code, queue], count)
    yield family


def _queue_messages():
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker
    from prometheus_client.core import GaugeMetricFamily

    from portal.jobs import dispatch

    broker = dramatiq.get_broker()
    if not isinstance(broker, RedisBroker):
        return
    # The Redis keys of dramatiq's broker (brokers/redis/dispatch.lua): the list of messages no worker has taken,
    # the delay queue's messages (retries waiting for their backoff) and the dead-letter set (kept for 7 days).
    queues = sorted(dispatch.queue_names())
    pipeline = broker.client.pipeline(transaction=False)
    for queue in queues:
        key = f"{broker.namespace}:{queue}"
        pipeline.llen(key)
        pipeline.hlen(f"{key}.DQ.msgs")
        pipeline.zcard(f"{key}.XQ")
    try:
        counts = pipeline.execute()
    except RedisError:
        logger.warning("metrics: could not read queue lengths", exc_info=True)
        return
    family = GaugeMetricFamily(
        "portal_queue_messages",
        "Messages in each Dramatiq queue: waiting for a worker, delayed (retries before their time) or dead-lettered.",
        labels=["queue", "state"],
    )
    for index, queue in enumerate(queues):
        for state, count in zip(("waiting", "delayed", "dead"), counts[3 * index : 3 * index + 3], strict=True):
            family.add_metric([queue, state], count)
    yield family


def _worker_renders_running():
    from prometheus_client.core import GaugeMetricFamily

    from portal.jobs.models import Job, JobSegment

    try:
        # A long job is rendered as parts, each on its own worker; the job's own worker_host only planned them.
        whole_jobs = Job.objects.filter(status=Job.Status.RUNNING, segment_count=0).values_list("worker_host")
        parts = JobSegment.objects.filter(
            status=JobSegment.Status.RUNNING, job__status=Job.Status.RUNNING
        ).values_list("worker_host")
        hosts = Counter(_host(worker_host) for (worker_host,) in chain(whole_jobs, parts))
    except DatabaseError:
        logger.warning("metrics: could not count running renders", exc_info=True)
        return
    family = GaugeMetricFamily(
        "portal_worker_renders_running",
        "Renders (whole jobs or parts) running now on each worker machine, as the database records them.",
        labels=["host"],
    )
    for host, count in sorted(hosts.items()):
        family.add_metric([host], count)
    yield family


def _host(worker_host: str) -> str:
    """'gpu-1:4242' -> 'gpu-1': a process id would start a new series at every worker restart."""
    host, _, pid = worker_host.rpartition(":")
    return host if host and pid.isdigit() else worker_host
