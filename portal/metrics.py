"""Prometheus metrics counted as things happen: the request middleware and what workers record of renders.

- portal_http_requests_total and portal_http_request_duration_seconds, by method, view name and status. View names,
  never paths: paths carry ids, and every distinct label value becomes a time series of its own;
- workers call observe_render(); portal_render_seconds and portal_render_rtf then appear on the port where
  Dramatiq's Prometheus middleware exposes the worker's metrics (9191), next to its dramatiq_* message metrics.

The web's /metrics endpoint, with the gauges read from the database and Redis at each scrape, is
portal/metrics_endpoint.py.

Several processes (gunicorn's workers, Dramatiq's worker processes) share metrics through prometheus_client's
multiprocess mode: one file per process in PROMETHEUS_MULTIPROC_DIR, summed when scraped. prometheus_client picks
that mode or plain in-memory values once, when it is first imported, from that variable. Dramatiq's middleware sets
the variable only when a worker process boots, after Django (the admin, the jobs code, perhaps this module) has
loaded, so this module imports prometheus_client only when a metric is first used.
"""

import logging
import os
import threading
import time
from types import SimpleNamespace

logger = logging.getLogger(__name__)

# Anything else a client sends as a method is counted as "other", so nobody can mint new series at will.
HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# A render lasts from seconds (a short clip on a GPU) up to the 30-minute time limit of one message.
RENDER_SECONDS_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)
# Render time over audio time: the builtin engine on a CPU is about 0.1, Sonic may need several times real time.
RTF_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)

_made: SimpleNamespace | None = None
_making = threading.Lock()


def made() -> SimpleNamespace:
    """This process's metric objects, made on first use (see the module docstring for why not at import)."""
    global _made
    with _making:
        if _made is None:
            import prometheus_client as prom

            # registry=None: scrape() chooses what to show, this process's values or every process's files.
            _made = SimpleNamespace(
                requests=prom.Counter(
                    "portal_http_requests",
                    "HTTP requests answered, by method, view name and status.",
                    ["method", "view", "status"],
                    registry=None,
                ),
                latency=prom.Histogram(
                    "portal_http_request_duration_seconds",
                    "Seconds until a response was ready, by method and view.",
                    ["method", "view"],
                    registry=None,
                ),
                render_seconds=prom.Histogram(
                    "portal_render_seconds",
                    "Seconds of successful renders (whole jobs or parts of long ones).",
                    ["backend", "queue"],
                    buckets=RENDER_SECONDS_BUCKETS,
                    registry=None,
                ),
                render_rtf=prom.Histogram(
                    "portal_render_rtf",
                    "Real-time factor of successful renders: render seconds per audio second.",
                    ["backend", "queue"],
                    buckets=RTF_BUCKETS,
                    registry=None,
                ),
            )
    return _made


def observe_render(*, backend: str, queue: str, render_seconds: float, audio_seconds: float) -> None:
    """Record one successful render, a whole job or one part of a long one, in the worker that did it.

    render_seconds: wall-clock time of the render; audio_seconds: the audio it covered (the job's
    audio_duration_seconds, or end_seconds - start_seconds of the part).
    """
    metrics = made()
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
        metrics = made()
        metrics.requests.labels(method, view, str(response.status_code)).inc()
        metrics.latency.labels(method, view).observe(seconds)
        return response

    return middleware
