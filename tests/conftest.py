import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import timezone, translation

from portal.accounts.models import User

FIXTURES = Path(__file__).resolve().parents[1] / "renderer" / "qualify" / "fixtures"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (`make test` does it)"),
]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


class TestingBrowser:
    """Chromium whose pages let the tests' own probes run (Playwright's wait_for_function evaluates a string, axe is
    injected as a script): the portal's Content-Security-Policy would block both. The policy itself is checked in a
    page that does not bypass it (tests/security/test_content_security_policy.py)."""

    def __init__(self, browser):
        self._browser = browser

    def __getattr__(self, name):
        return getattr(self._browser, name)

    def new_context(self, **options):
        return self._browser.new_context(**{"bypass_csp": True, **options})

    def new_page(self, **options):
        return self._browser.new_page(**{"bypass_csp": True, **options})


PASSWORD = "correct horse battery staple"


@pytest.fixture
def screenshots() -> Path:
    """Where browser tests save what they saw: SCREENSHOT_DIR, else var/screenshots (kept after the run, for people
    to look at; .ci/run says where)."""
    folder = Path(os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def outside_the_browser(query):
    """Run an ORM query from a browser test's body: in its own thread, whose connection is closed after (in the test's
    thread it would run in Playwright's greenlet and leave a connection open)."""
    import threading

    from django.db import connections

    result = {}

    def run():
        try:
            result["value"] = query()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result["value"]


def log_in(browser, base_url: str, email: str, page=None):
    """A browser page (a new one unless given), signed in through the login form, on the user's library."""
    import re

    page = page or browser.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/library/$"))
    return page


def make_user(email: str, password: str = PASSWORD) -> User:
    user = User.objects.create_user(email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def with_second_factor(client, user) -> str:
    """Signs the client in as staff who has set up an authenticator app and entered its code in this session (what
    allauth records after the login's code step): refund-capable staff need it for admin. Returns the TOTP secret."""

    from allauth.mfa.adapter import get_adapter
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:  # signing in again on another client: the same authenticator app
        secret = get_adapter().decrypt(existing.data["secret"])
    else:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    client.force_login(user)
    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time()},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session.save()
    return secret


def totp_code(secret: str, time_to_use: float = 5.0) -> str:
    """The code an authenticator app shows now, read with at least `time_to_use` seconds left before it changes.

    The server accepts only the code of the step it checks in, so a code read in the last moment of a step and
    checked in the next is refused: a person would wait for the next code, and so does this.
    """
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    left = app_settings.TOTP_PERIOD - time.time() % app_settings.TOTP_PERIOD
    if left < time_to_use:
        time.sleep(left + 0.05)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


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


def stored_files() -> list[str]:
    """Every file name in media storage (local file system storage in tests)."""
    return sorted(str(p.relative_to(settings.MEDIA_ROOT)) for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def storage_has(name: str) -> bool:
    return default_storage.exists(name)


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
    import time

    from portal import request_rates

    while time.time() % request_rates.WINDOW_SECONDS > request_rates.WINDOW_SECONDS - 20:
        time.sleep(0.5)


@contextmanager
def running_worker(threads: int = 2, queues=None):
    """A real Dramatiq worker on the real Redis broker, in this process (so it sees the test database); on every
    queue, or only on `queues`."""
    import dramatiq

    from portal import queue

    queue.declare_actors()  # as a worker process does when it starts
    broker = dramatiq.get_broker()
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100, queues=queues)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        # A stopped worker's hook stays on the broker and would grab queues declared later; take it off.
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


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
