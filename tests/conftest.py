import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone, translation

from tests.browsing import CHROMIUM, CHROMIUM_FLAGS, TestingBrowser
from tests.factories import make_user, running_worker


@pytest.fixture
def browser(live_server):
    """Closed before the live server stops, so no request is left holding a database connection."""
    # Playwright's sync API runs an event loop in this thread (in a greenlet with its own context, where the ORM
    # would open a connection nobody closes): tests make their database rows in fixtures, before this one.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield TestingBrowser(chromium)
        chromium.close()


@pytest.fixture
def screenshots() -> Path:
    """Where browser tests save what they saw: SCREENSHOT_DIR, else var/screenshots (kept after the run, for people
    to look at; .ci/run says where)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def owner(db):
    return make_user("owner@example.com")


@pytest.fixture
def outsider(db):
    return make_user("outsider@example.com")


@pytest.fixture
def teacher(transactional_db):
    """A user on the Teacher plan (paid queue), in a database that worker threads and processes can see."""
    from tests.jobs_helpers import give_plan

    user = make_user("teacher@example.com")
    give_plan(user, "teacher")
    return user


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def outsider_client(outsider):
    from django.test import Client

    other = Client()
    other.force_login(outsider)
    return other


@pytest.fixture(autouse=True)
def _default_language_and_time_zone():
    """A request activates its language and time zone in the thread that serves it (the test's own, with the test
    client); what a later test runs outside a request must not inherit them."""
    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth's rate limits live in the cache; one test's sign-ups must not throttle the next test."""
    cache.clear()


@pytest.fixture(autouse=True)
def _empty_media_storage():
    """Each test starts with empty storage, so 'nothing stored' can be asserted by listing it."""
    root = Path(settings.MEDIA_ROOT)
    yield
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()


@pytest.fixture(autouse=True)
def _empty_broker():
    """Messages (and workers' announcements) a test leaves in Redis, in the run's own namespace, must not reach the
    next test."""
    yield
    import dramatiq

    broker = dramatiq.get_broker()
    broker.flush_all()
    leftovers = list(broker.client.scan_iter(f"{broker.namespace}:*"))
    if leftovers:
        broker.client.delete(*leftovers)


@pytest.fixture
def fresh_window():
    """Start early in a one-minute rate window (portal/request_rates.py), so a test's requests all count in one."""

    from portal import request_rates

    while time.time() % request_rates.WINDOW_SECONDS > request_rates.WINDOW_SECONDS - 20:
        time.sleep(0.5)


@pytest.fixture
def worker(transactional_db):
    with running_worker() as running:
        yield running


@pytest.fixture(scope="session")
def _memory_exporter():
    """Every span this test process finishes, kept in memory (added once: a tracer provider cannot be replaced)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def finished_spans(_memory_exporter):
    """The spans finished during this test: call it for the list so far."""
    _memory_exporter.clear()
    return _memory_exporter.get_finished_spans
