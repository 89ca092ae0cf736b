"""OpenTelemetry for the portal: set up once per process, and the helpers that tie a job to its trace.

The SDK is always installed, so every request and job has a real trace id (for the support code and the logs)
even when nothing is exported. The standard OTEL_* variables configure it: spans leave the process over OTLP/HTTP
only when OTEL_EXPORTER_OTLP_ENDPOINT is set, through a batch processor so exporting never blocks a request or a
render. Sampling follows OTEL_TRACES_SAMPLER (default: parent-based, ratio OTEL_TRACES_SAMPLER_ARG or 1.0).

setup() runs from the portal's AppConfig.ready(), which gunicorn workers (no --preload) and Dramatiq worker
processes execute after they fork; a process that forks after setup gets a fresh export thread from the SDK's
batch processor, which re-initialises itself in the child.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from contextlib import contextmanager
from urllib.parse import quote

from django.conf import settings
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

tracer = trace.get_tracer("portal")

SUPPORT_CODE_DIGITS = 10
# Requests nobody needs a trace of: probes and scrapes, hit every few seconds.
DEFAULT_EXCLUDED_URLS = "healthz,metrics,static/"


def setup() -> None:
    """Install the tracer provider and instrument Django; once per process."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return  # already set up in this process, or inherited from the parent it forked from
    sampler = None  # the SDK reads OTEL_TRACES_SAMPLER itself when it is set
    if not os.environ.get("OTEL_TRACES_SAMPLER"):
        sampler = ParentBasedTraceIdRatio(float(os.environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0))
    resource = Resource.create({"service.name": settings.OTEL_SERVICE_NAME})
    provider = TracerProvider(resource=resource, sampler=sampler)
    if settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    with warnings.catch_warnings():
        # instrumentation 0.48b0 imports pkg_resources, which only warns (setuptools<81 is pinned for it).
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        from opentelemetry.instrumentation.django import DjangoInstrumentor

    DjangoInstrumentor().instrument(
        tracer_provider=provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS),
    )
    _tolerate_unicode_paths()


def _tolerate_unicode_paths() -> None:
    """instrumentation-django 0.48b0 quotes Django's decoded path as latin-1 to make http.url, so any URL with a
    character beyond U+00FF (say /jobs/%F0%9F%98%80/) raised in its middleware: a 500 instead of our 404. It gets
    the path as percent-escapes instead."""
    from opentelemetry.instrumentation.django.middleware import otel_middleware

    collect = otel_middleware.wsgi_collect_request_attributes

    def collect_request_attributes(environ, *args, **kwargs):
        try:
            return collect(environ, *args, **kwargs)
        except UnicodeEncodeError:
            escaped = {**environ, "PATH_INFO": quote(environ.get("PATH_INFO", ""), safe="/;=,")}
            return collect(escaped, *args, **kwargs)

    otel_middleware.wsgi_collect_request_attributes = collect_request_attributes


def _hex_trace_id(span_context) -> str:
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


def current_trace_id() -> str:
    """The 32-hex trace id of what is running now, or "" outside any span."""
    return _hex_trace_id(trace.get_current_span().get_span_context())


def current_traceparent() -> str:
    """The W3C traceparent of the current span, so later work (retries, re-queues) joins the same trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


@contextmanager
def continued_trace(traceparent: str):
    """Run the block as part of the trace `traceparent` names (a job's), or of the current one if it is empty."""
    if not traceparent:
        yield
        return
    token = context.attach(propagate.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)


def support_code(trace_id: str) -> str:
    """A short code a user can read out to support: the start of the trace id, in two groups ("3F9A2-C01B7")."""
    if not trace_id:
        return ""
    digits = trace_id[:SUPPORT_CODE_DIGITS].upper()
    return f"{digits[:5]}-{digits[5:]}"


def trace_id_prefix(text: str) -> str | None:
    """What to look a job up by, from a support code or trace id as someone typed or pasted it; None if it is
    neither."""
    digits = re.sub(r"[\s-]", "", text).lower()
    if len(digits) in (SUPPORT_CODE_DIGITS, 32) and re.fullmatch(r"[0-9a-f]+", digits):
        return digits
    return None


def trace_url(trace_id: str) -> str:
    """Where support opens a trace: TRACE_URL_TEMPLATE with {trace_id} filled in, else Grafana Explore at
    GRAFANA_URL on the Tempo datasource TEMPO_DATASOURCE_UID; "" when neither is set."""
    if not trace_id or not (settings.TRACE_URL_TEMPLATE or settings.GRAFANA_URL):
        return ""  # no tracing backend configured: admin links to the job's own timeline instead
    template = settings.TRACE_URL_TEMPLATE or grafana_explore_template(
        settings.GRAFANA_URL, settings.TEMPO_DATASOURCE_UID
    )
    return template.replace("{trace_id}", quote(trace_id))


def grafana_explore_template(grafana_url: str, tempo_uid: str) -> str:
    """A Grafana Explore URL that opens one trace from the Tempo datasource `tempo_uid`."""
    datasource = {"type": "tempo", "uid": tempo_uid}
    query = {"refId": "A", "datasource": datasource, "queryType": "traceql", "query": "{trace_id}"}
    panes = json.dumps(
        {"trace": {"datasource": tempo_uid, "queries": [query], "range": {"from": "now-30d", "to": "now"}}},
        separators=(",", ":"),
    )
    encoded = quote(panes, safe="").replace(quote("{trace_id}", safe=""), "{trace_id}")
    return f"{grafana_url.rstrip('/')}/explore?schemaVersion=1&orgId=1&panes={encoded}"


class TraceIdsFilter(logging.Filter):
    """Puts trace_id and span_id on every log record, so a log line leads to its trace and back."""

    def filter(self, record: logging.LogRecord) -> bool:
        span_context = trace.get_current_span().get_span_context()
        record.trace_id = _hex_trace_id(span_context) or "-"
        record.span_id = format(span_context.span_id, "016x") if span_context.is_valid else "-"
        return True
