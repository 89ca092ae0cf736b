"""The Content-Security-Policy: every page says it, with no inline script or style allowed, and in a real browser no
page of the portal (signed out, signed in, admin, the API docs, a shared video) trips it."""

import pytest
from django.test import Client

from portal.jobs import sharing
from tests.browsing import BROWSER_TESTS, log_in
from tests.factories import make_user
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan

PAGES = ["/", "/accounts/login/", "/accounts/signup/", "/api/v1/docs/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_strict_policy(db, path):
    policy = Client().get(path)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.fixture
def staff_with_a_shared_video(transactional_db):
    user = make_user("staff@example.com")
    user.is_staff = user.is_superuser = True
    user.save()
    give_plan(user, "pro")
    portrait, audio = fixture_inputs(user)
    job = finished_job(user, portrait=portrait, audio=audio)
    return job, sharing.create(job, 7)


RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.mark.slow
@BROWSER_TESTS[0]
@BROWSER_TESTS[1]
def test_no_page_trips_the_policy_in_a_browser(staff_with_a_shared_video, browser, live_server):
    job, link = staff_with_a_shared_video
    page = browser.new_page(bypass_csp=False)
    page.add_init_script(RECORD_VIOLATIONS)
    tripped = {}

    def visit(path):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__violations")
        if found:
            tripped[path] = found

    for path in ["/", "/accounts/login/", f"/watch/{link.token}/", "/api/v1/docs/"]:
        visit(path)
    log_in(None, live_server.url, job.owner.email, page=page)
    for path in [
        "/",
        "/library/",
        "/jobs/",
        "/jobs/new/",
        f"/jobs/{job.id}/",
        "/billing/",
        "/accounts/preferences/",
        "/accounts/api-keys/",
        "/jobs/webhook/",
        "/accounts/2fa/",
        "/admin/",
        "/admin/jobs/job/",
        f"/admin/jobs/job/{job.id}/change/",
        "/admin/accounts/user/",
    ]:
        visit(path)
    assert tripped == {}
