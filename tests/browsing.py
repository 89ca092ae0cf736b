"""Driving Debian's Chromium with Playwright: its flags, the marks of a browser test, signing in, and reading the
database from a browser test's body."""

import re
import shutil
import threading
from pathlib import Path

import pytest
from django.db import connections

from tests.factories import PASSWORD

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


def outside_the_browser(query):
    """Run an ORM query from a browser test's body: in its own thread, whose connection is closed after (in the test's
    thread it would run in Playwright's greenlet and leave a connection open)."""

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

    page = page or browser.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/library/$"))
    return page
