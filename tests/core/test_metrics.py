"""/metrics: only with the token; request counts, jobs, queue depth and busy workers as the database and Redis have
them; render histograms from this process, and from worker processes through Dramatiq's exposition port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from portal import metrics
from portal.jobs import rendering, services, webhooks
from portal.jobs.models import Job, JobSegment
from tests.factories import make_user, running_worker
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan, wait_for
from tests.metrics_helpers import TOKEN, labels, series

ROOT = Path(__file__).resolve().parents[2]


def test_404_while_no_token_is_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_404_without_the_right_token(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    refused = [
        client.get("/metrics"),
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token"),
        client.get("/metrics", HTTP_AUTHORIZATION=TOKEN),
        client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}"),
        client.get(f"/metrics?token={TOKEN}"),
    ]
    assert [response.status_code for response in refused] == [404] * 5
    assert not any(b"portal_" in response.content for response in refused)


def test_counts_requests_by_view_name_and_status_never_by_path(scrape, client):
    requests = "portal_http_requests_total"
    before = series(scrape(), requests)
    job_id = uuid.uuid4()
    client.get("/healthz")
    client.get("/healthz")
    client.get(f"/jobs/{job_id}/")  # signed out: redirected to the login page
    client.get("/no-such-page/")
    client.generic("BREW", "/healthz")

    body = scrape()
    after = series(body, requests)

    def added(**pairs):
        return after.get(labels(**pairs), 0) - before.get(labels(**pairs), 0)

    assert added(method="GET", view="healthz", status="200") == 2
    assert added(method="GET", view="jobs:detail", status="302") == 1
    assert added(method="GET", view="unrouted", status="404") == 1
    assert added(method="other", view="healthz", status="200") == 1
    assert str(job_id) not in body and "no-such-page" not in body and "BREW" not in body
    durations = series(body, "portal_http_request_duration_seconds_count")
    assert durations[labels(method="GET", view="healthz")] >= 2


def test_jobs_by_status_error_code_and_queue(scrape, owner):
    finished_job(owner, status=Job.Status.FAILED, error_code="no_face", video=None)
    finished_job(owner, status=Job.Status.FAILED, error_code="no_face", video=None)
    finished_job(owner, status=Job.Status.FAILED, error_code="unreadable_audio", video=None)
    finished_job(owner)
    finished_job(owner, status=Job.Status.QUEUED, queue_name="builtin-paid", video=None)

    assert series(scrape(), "portal_jobs") == {
        labels(status="failed", error_code="no_face", queue="builtin-free"): 2,
        labels(status="failed", error_code="unreadable_audio", queue="builtin-free"): 1,
        labels(status="succeeded", error_code="", queue="builtin-free"): 1,
        labels(status="queued", error_code="", queue="builtin-paid"): 1,
    }


def test_renders_running_per_worker_machine(scrape, owner):
    finished_job(owner, status=Job.Status.RUNNING, worker_host="gpu-1:101", video=None)
    finished_job(owner, status=Job.Status.RUNNING, worker_host="gpu-1:202", video=None)
    finished_job(owner, status=Job.Status.SUCCEEDED, worker_host="gpu-1:101")
    # A long job: the worker that planned its parts is free again; one part renders elsewhere, one is done.
    long_job = finished_job(owner, status=Job.Status.RUNNING, worker_host="cpu-2:7", segment_count=2, video=None)
    JobSegment.objects.create(
        job=long_job, index=0, start_seconds=0, end_seconds=60, status=JobSegment.Status.RUNNING, worker_host="cpu-3:9"
    )
    JobSegment.objects.create(
        job=long_job, index=1, start_seconds=60, end_seconds=95, status=JobSegment.Status.DONE, worker_host="cpu-2:7"
    )

    assert series(scrape(), "portal_worker_renders_running") == {labels(host="gpu-1"): 2, labels(host="cpu-3"): 1}


def test_queue_depth_follows_messages_in_redis(scrape):
    depth = "portal_queue_messages"
    rendering.RENDER_JOB["builtin-free"].send(str(uuid.uuid4()))
    rendering.RENDER_JOB["builtin-free"].send(str(uuid.uuid4()))
    rendering.RENDER_JOB["builtin-paid"].send(str(uuid.uuid4()))
    webhooks.deliver_webhook.send_with_options(args=(1,), delay=60_000)

    queued = series(scrape(), depth)
    assert queued[labels(queue="builtin-free", state="waiting")] == 2
    assert queued[labels(queue="builtin-paid", state="waiting")] == 1
    assert queued[labels(queue="webhooks", state="waiting")] == 0
    assert queued[labels(queue="webhooks", state="delayed")] == 1
    assert queued[labels(queue="builtin-free", state="delayed")] == 0

    broker = dramatiq.get_broker()
    consumer = broker.consume("builtin-paid", prefetch=1, timeout=1000)
    consumer.nack(next(consumer))  # what a worker does with a message that has no retries left
    consumer.close()
    dead = series(scrape(), depth)
    assert dead[labels(queue="builtin-paid", state="waiting")] == 0
    assert dead[labels(queue="builtin-paid", state="dead")] == 1

    broker.flush_all()
    assert set(series(scrape(), depth).values()) == {0}


def test_still_answers_without_queue_depth_while_redis_is_down(scrape, client):
    client.get("/healthz")
    working = dramatiq.get_broker()
    dramatiq.set_broker(RedisBroker(url="redis://127.0.0.1:1/0", namespace="nowhere"))
    try:
        body = scrape()
    finally:
        dramatiq.set_broker(working)
    assert series(body, "portal_queue_messages") == {}
    assert series(body, "portal_http_requests_total")[labels(method="GET", view="healthz", status="200")] >= 1


def test_render_histograms_show_renders_observed_in_this_process(scrape):
    key = labels(backend="builtin", queue="builtin-paid")
    before = scrape()
    metrics.observe_render(backend="builtin", queue="builtin-paid", render_seconds=4.0, audio_seconds=10.0)
    after = scrape()

    def added(name, **bucket):
        return series(after, name).get(key | labels(**bucket), 0) - series(before, name).get(key | labels(**bucket), 0)

    assert added("portal_render_seconds_count") == 1
    assert added("portal_render_seconds_sum") == pytest.approx(4.0)
    assert (added("portal_render_seconds_bucket", le="2.5"), added("portal_render_seconds_bucket", le="5.0")) == (0, 1)
    assert added("portal_render_rtf_count") == 1
    assert (added("portal_render_rtf_bucket", le="0.3"), added("portal_render_rtf_bucket", le="0.5")) == (0, 1)


def _python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**environment, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


WORKER_PROCESS = """
import django_dramatiq.setup  # what `manage.py rundramatiq` has each worker process load first
import dramatiq
from portal import metrics  # loaded before the process boots, as the jobs code or the admin may do

dramatiq.get_broker().emit_after("process_boot")  # what dramatiq's worker process does next
metrics.observe_render(backend="builtin", queue="builtin-paid", render_seconds=4.0, audio_seconds=10.0)
metrics.observe_render(backend="builtin", queue="builtin-paid", render_seconds=50.0, audio_seconds=40.0)
"""

EXPOSITION_SERVER = """
from dramatiq.middleware.prometheus import Prometheus
Prometheus().forks[0]()  # the process dramatiq forks to serve its workers' metrics
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_when_up(url: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_renders_in_worker_processes_reach_dramatiq_exposition_port(tmp_path):
    # The development settings, whose broker carries Dramatiq's Prometheus middleware (the tests' broker does not).
    prometheus_env = {
        "dramatiq_prom_db": str(tmp_path),
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(_free_port()),
    }
    _python(WORKER_PROCESS, DJANGO_SETTINGS_MODULE="portal.settings.local", **prometheus_env)
    server = subprocess.Popen(
        [sys.executable, "-c", EXPOSITION_SERVER],
        cwd=ROOT,
        env={**os.environ, **prometheus_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = _get_when_up(f"http://127.0.0.1:{prometheus_env['dramatiq_prom_port']}/")
    finally:
        server.terminate()
        server.wait(timeout=10)

    key = labels(backend="builtin", queue="builtin-paid")
    assert series(body, "portal_render_seconds_count")[key] == 2
    assert series(body, "portal_render_seconds_sum")[key] == pytest.approx(54.0)
    rtf_buckets = series(body, "portal_render_rtf_bucket")
    assert (rtf_buckets[key | labels(le="0.3")], rtf_buckets[key | labels(le="0.5")]) == (0, 1)
    assert (rtf_buckets[key | labels(le="1.0")], rtf_buckets[key | labels(le="1.5")]) == (1, 2)


WEB_PROCESS = """
import django
django.setup()
from django.test import Client

client = Client()
for _ in range({requests}):
    assert client.get("/").status_code == 200  # the home page: needs neither the database nor Redis
"""


@pytest.mark.slow
def test_one_scrape_counts_the_requests_of_every_web_process(scrape, tmp_path, monkeypatch):
    """gunicorn runs several web processes; whichever one Prometheus reaches reports the requests of all."""
    shared_dir = tmp_path / "web"
    for requests in (3, 2):
        _python(
            WEB_PROCESS.format(requests=requests),
            DJANGO_SETTINGS_MODULE="portal.settings.test",
            PROMETHEUS_MULTIPROC_DIR=str(shared_dir),
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared_dir))

    counted = series(scrape(), "portal_http_requests_total")
    assert counted[labels(method="GET", view="home", status="200")] == 5


@pytest.mark.slow
def test_a_real_render_by_a_worker_is_observed(transactional_db, client, settings):
    teacher = make_user("teacher@example.com")
    give_plan(teacher, "teacher")
    settings.METRICS_TOKEN = TOKEN
    key = labels(backend="builtin", queue="builtin-paid")

    def count(name: str) -> float:
        body = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        return series(body, name).get(key, 0)

    before = count("portal_render_seconds_count"), count("portal_render_rtf_count")
    with running_worker():
        job = wait_for(services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256}))
    assert job.status == "succeeded"
    assert (count("portal_render_seconds_count"), count("portal_render_rtf_count")) == (before[0] + 1, before[1] + 1)
