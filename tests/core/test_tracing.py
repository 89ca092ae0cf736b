"""One trace per job, from the request that submitted it through the queue to each render stage."""

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote

import dramatiq
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.trace import SpanKind, StatusCode

import renderer
from portal import tracing
from portal.jobs import queue_messages, services
from portal.jobs.models import Job, JobStage
from portal.library.upload import store
from tests.factories import FIXTURES
from tests.jobs_helpers import fixture_inputs, form_data, wait_for
from tests.media import image_bytes, upload

RENDER_STAGES = [
    "download_inputs",
    "load_audio",
    "analyse_audio",
    "preprocess_image",
    "animate",
    "encode_video",
    "store_output",
]
RENDER_ATTRIBUTES = {
    "backend": "builtin",
    "resolution": 256,
    "fps": 25,
    "inference.steps": 25,
    "dynamic.scale": 1.0,
    "motion.scale": 1.0,
}


def settle(worker) -> None:
    """Wait until the worker has finished every message, so every CONSUMER span has ended."""
    broker = dramatiq.get_broker()
    for queue in ("builtin-paid", "builtin-free"):
        broker.join(queue, timeout=60_000)
    worker.join()


def of_trace(spans, trace_id: str) -> list:
    return [span for span in spans if format(span.context.trace_id, "032x") == trace_id]


def named(spans, name: str):
    matches = [span for span in spans if span.name == name]
    assert matches, f"no {name!r} span among {sorted({span.name for span in spans})}"
    return matches


def ancestors(span, spans) -> list:
    by_id = {other.context.span_id: other for other in spans}
    chain = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


@pytest.mark.slow
def test_one_trace_from_the_submitting_request_to_every_render_stage(worker, teacher, client, finished_spans):
    client.force_login(teacher)
    portrait, audio = fixture_inputs(teacher)
    response = client.post(
        reverse("jobs:new"),
        form_data(portrait, audio, action="submit"),
    )
    assert response.status_code == 302
    job = wait_for(Job.objects.get())
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    settle(worker)

    assert len(job.trace_id) == 32
    spans = of_trace(finished_spans(), job.trace_id)
    request = [span for span in spans if span.kind == SpanKind.SERVER]
    assert len(request) == 1 and request[0].attributes["http.method"] == "POST"
    (producer,) = named(spans, "send render_job_builtin_paid")
    (consumer,) = named(spans, "process render_job_builtin_paid")
    assert producer.kind == SpanKind.PRODUCER and consumer.kind == SpanKind.CONSUMER
    assert request[0] in ancestors(producer, spans)
    assert consumer.parent.span_id == producer.context.span_id
    assert consumer.attributes["job.id"] == str(job.id)
    assert consumer.attributes["messaging.destination.name"] == "builtin-paid"
    # Which qualified weights rendered it: on the job (support's page links the registry) and in its trace.
    assert consumer.attributes["renderer.checkpoint"] == job.checkpoint.digest == renderer.checkpoint_digest("builtin")

    for name in RENDER_STAGES:
        (stage,) = named(spans, name)
        assert consumer in ancestors(stage, spans), name
        assert stage.status.status_code != StatusCode.ERROR
    for name in RENDER_STAGES[1:-1]:
        assert RENDER_ATTRIBUTES.items() <= named(spans, name)[0].attributes.items(), name
    (analysis,) = named(spans, "analyse_audio")
    assert abs(analysis.attributes["audio.duration_s"] - audio.duration_seconds) < 0.01
    assert analysis.attributes["frames"] == 243
    assert [event.attributes["sample_rate"] for event in analysis.events if event.name == "audio decoded"] == [16000]
    (render,) = named(spans, "render")
    with default_storage.open(portrait.file.name) as stored:
        assert render.attributes["portrait.sha256"] == hashlib.sha256(stored.read()).hexdigest()
    assert render.attributes["frames"] == 243

    # Hashes identify the inputs; nothing names a file, a folder or a person.
    for span in spans:
        text = json.dumps({k: str(v) for k, v in span.attributes.items()})
        assert teacher.email not in text and "speech.wav" not in text and "portrait.jpg" not in text
        if span.kind != SpanKind.SERVER:
            assert "/" not in text, (span.name, text)

    # The same stages, with their durations, are kept in the database for support.
    timeline = list(JobStage.objects.filter(job=job).values_list("name", "attempt", "error_code"))
    assert [name for name, _, _ in timeline] == RENDER_STAGES
    assert {(attempt, error) for _, attempt, error in timeline} == {(1, "")}
    assert JobStage.objects.get(job=job, name="analyse_audio").attributes["frames"] == 243


@pytest.mark.slow
def test_a_failing_stage_is_an_error_span_and_a_failed_row(worker, teacher, finished_spans):
    _, audio = fixture_inputs(teacher)
    faceless = store.add_portrait(teacher, upload("wall.png", image_bytes("PNG", (400, 400), noise=True)))
    job = wait_for(services.submit(teacher, faceless, audio, {"resolution": 256}))
    assert job.error_code == "no_face"
    settle(worker)

    (failed,) = named(of_trace(finished_spans(), job.trace_id), "preprocess_image")
    assert failed.status.status_code == StatusCode.ERROR and failed.attributes["error.type"] == "no_face"
    assert [event.name for event in failed.events] == ["exception"]
    stage = JobStage.objects.get(job=job, name="preprocess_image")
    assert stage.error_code == "no_face" and stage.attempt == 1


@pytest.mark.slow
def test_a_lectures_parts_and_their_join_are_in_the_jobs_trace(worker, teacher, settings, finished_spans):
    settings.SEGMENT_SECONDS = 4.0
    portrait, audio = fixture_inputs(teacher)
    job = wait_for(services.submit(teacher, portrait, audio, {"resolution": 256}))
    assert job.status == Job.Status.SUCCEEDED and job.segment_count >= 3
    settle(worker)

    spans = of_trace(finished_spans(), job.trace_id)
    parts = named(spans, "process render_segment_builtin_paid")
    assert sorted(span.attributes["job.segment"] for span in parts) == list(range(job.segment_count))
    assert {span.attributes["renderer.checkpoint"] for span in parts} == {job.checkpoint.digest}
    (join,) = named(spans, "process stitch_job_builtin_paid")
    (joining,) = named(spans, "join_parts")
    assert join in ancestors(joining, spans)
    assert set(JobStage.objects.filter(job=job, name="animate").values_list("segment_index", flat=True)) == set(
        range(job.segment_count)
    )


def test_a_job_sent_again_later_continues_its_own_trace(teacher, finished_spans):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 256})  # sent once it commits; no worker runs
    queue_messages.send_job(job.pk)  # what the reconciler does, outside any request

    sends = named(finished_spans(), "send render_job_builtin_paid")
    assert len(sends) == 2
    assert {format(span.context.trace_id, "032x") for span in sends} == {job.trace_id}


def test_log_lines_carry_the_trace_and_span_ids():
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, tracing.TraceIdsFilter) for f in h.filters)
    )
    with tracing.tracer.start_as_current_span("work") as span:
        record = logging.LogRecord("portal", logging.INFO, __file__, 1, "rendering", None, None)
        handler.filter(record)
        line = handler.format(record)
    ids = span.get_span_context()
    assert f"trace_id={ids.trace_id:032x} span_id={ids.span_id:016x} rendering" in line


def test_support_codes_and_trace_links(settings):
    trace_id = "3f9a2c01b7d4e5f60718293a4b5c6d7e"
    assert tracing.support_code(trace_id) == "3F9A2-C01B7"
    assert tracing.trace_id_prefix(" 3f9a2-c01b7 ") == "3f9a2c01b7"
    assert tracing.trace_id_prefix(trace_id.upper()) == trace_id
    assert tracing.trace_id_prefix("someone@example.com") is None
    assert tracing.trace_url(trace_id) == ""  # no tracing backend configured
    settings.GRAFANA_URL = "https://grafana.example.com"
    link = tracing.trace_url(trace_id)
    assert link.startswith("https://grafana.example.com/explore?") and trace_id in link
    panes = json.loads(unquote(link.split("panes=")[1]))
    assert panes["trace"]["queries"][0] == {
        "refId": "A",
        "datasource": {"type": "tempo", "uid": "tempo"},
        "queryType": "traceql",
        "query": trace_id,
    }


def test_trace_link_template_setting(settings):
    settings.TRACE_URL_TEMPLATE = "https://tempo.example.org/trace/{trace_id}"
    assert tracing.trace_url("ab" * 16) == "https://tempo.example.org/trace/" + "ab" * 16


class _Receiver(BaseHTTPRequestHandler):
    """A local OTLP/HTTP trace endpoint: it decodes what it is sent."""

    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        type(self).received.append((self.path, self.headers["Content-Type"], request))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


PROBE = """
import django, renderer, sys
django.setup()
from django.test import Client
from portal import tracing
with tracing.tracer.start_as_current_span("probe"):
    renderer.render(sys.argv[1], sys.argv[2], sys.argv[3], {"resolution": 256})
assert Client().get("/accounts/login/").status_code == 200
"""


@pytest.mark.slow
def test_spans_leave_the_process_over_otlp_http(tmp_path):
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        "OTEL_SERVICE_NAME": "sonic-otlp-probe",
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
    }
    try:
        completed = subprocess.run(
            [
                sys.executable,
                "-c",
                PROBE,
                str(FIXTURES / "portrait.jpg"),
                str(FIXTURES / "speech.wav"),
                str(tmp_path / "out.mp4"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=settings.BASE_DIR,
        )
    finally:
        server.shutdown()
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert _Receiver.received, "nothing was exported"
    names, services_seen = set(), set()
    for path, content_type, request in _Receiver.received:
        assert path == "/v1/traces" and content_type == "application/x-protobuf"
        for resource_spans in request.resource_spans:
            services_seen |= {
                a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
            }
            names |= {span.name for scope in resource_spans.scope_spans for span in scope.spans}
    assert services_seen == {"sonic-otlp-probe"}
    assert {"probe", "render", "load_audio", "animate", "encode_video"} <= names
    assert any(name.startswith("GET") for name in names), names


def test_a_url_with_any_unicode_character_is_a_404_not_a_500(client, db):
    """Tracing reads every request's path: a character beyond latin-1 in it must not break the request."""
    assert client.get("/jobs/%F0%9F%98%80/").status_code == 404
    response = client.get("/api/v1/jobs/%F0%96%91%8C%C2%BF/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
