"""A Support user's day in a real browser: sign in with the authenticator code, find a job by the support code a
user read out, open its timeline, refund it with a reason, and find that in the audit log and on the user's page."""

import os
import re
import shutil

import pytest
from django.contrib.auth.models import Group

from billing import quota
from portal.accounts.models import User
from tests.browsing import BROWSER_TESTS
from tests.factories import PASSWORD, make_user, totp_code, with_second_factor
from tests.jobs_helpers import finished_job, give_plan

pytestmark = BROWSER_TESTS


@pytest.fixture
def refundable_job(transactional_db):
    """A teacher's finished video, charged, with stages in its timeline; and a Support user with an authenticator."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from portal.jobs.models import JobStage

    teacher = make_user("teacher@example.com")
    give_plan(teacher, "teacher")
    start = timezone.now() - timedelta(minutes=3)
    job = finished_job(
        teacher,
        trace_id="3f9a2c01b7d4e5f60718293a4b5c6d7e",
        started_at=start,
        finished_at=start + timedelta(seconds=12),
    )
    job.reservation = quota.charge(quota.reserve_seconds(teacher, job.quota_seconds, job_ref=str(job.id)))
    job.save(update_fields=["reservation"])
    for offset, (name, seconds) in enumerate([("download_inputs", 0.4), ("animate", 8.0), ("encode", 3.0)]):
        JobStage.objects.create(
            job=job, attempt=1, name=name, seconds=seconds, started_at=start + timedelta(seconds=[0, 0.5, 8.6][offset])
        )
    support = make_user("support@example.com")
    User.objects.filter(pk=support.pk).update(is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    secret = with_second_factor(Client(), support)
    return job, secret


def test_support_finds_a_job_by_support_code_and_refunds_it_with_a_reason(
    refundable_job, browser, live_server, tmp_path
):
    job, secret = refundable_job
    shots = os.environ.get("SUPPORT_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def shot(name):
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        if shots:
            shutil.copy(path, shots)

    page.goto(f"{live_server.url}/admin/")  # the portal's own login, then the authenticator code
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", "support@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.fill("input[name=code]", totp_code(secret))
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert "Sonic Portal support" in page.title()
    shot("admin-index")

    page.click("a[href='/admin/jobs/job/']")
    page.fill("#searchbar", "3f9a2-c01b7")  # as the user read it out
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.evaluate("(r => r.scrollWidth <= r.clientWidth)(document.querySelector('#changelist .results'))"), (
        "every column of the job list fits at 1280 px"
    )
    shot("job-list")
    page.click(f"#result_list a:has-text('{str(job.id)[:8]}')")
    page.wait_for_url(re.compile(rf"/admin/jobs/job/{job.id}/change/"))
    shot("job-page")

    page.click("text=Open timeline")
    page.wait_for_selector("table.timeline")
    assert [cell.strip() for cell in page.locator("table.timeline tr.stage td:nth-child(3)").all_inner_texts()] == [
        "download_inputs",
        "animate",
        "encode",
    ]
    shot("timeline")
    page.go_back()

    page.click("a.job-action[data-action=refund]")
    page.fill("textarea[name=reason]", "The lips were out of sync in the last minute")
    shot("refund-confirmation")
    page.click("input[type=submit][name=confirm]")
    page.wait_for_selector("ul.messagelist")
    assert "Refunded 10 s of render time." in page.inner_text("ul.messagelist")

    page.goto(f"{live_server.url}/admin/support/auditevent/")
    row = page.inner_text("#result_list tbody tr")
    assert "support@example.com" in row and "teacher@example.com" in row and "out of sync" in row
    shot("audit-log")

    page.goto(f"{live_server.url}/admin/accounts/user/{job.owner_id}/change/")
    timeline = page.inner_text(".account-timeline")
    assert "Render time refunded" in timeline and "The lips were out of sync" in timeline
    shot("user-page")


@pytest.fixture
def new_superuser(transactional_db):
    """Made as `createsuperuser` makes one (its email verified): no authenticator app yet."""
    founder = make_user("founder@example.com")
    User.objects.filter(pk=founder.pk).update(is_staff=True, is_superuser=True)
    return founder


@pytest.mark.parametrize(
    "language, viewport",
    [
        ("en", {"width": 1280, "height": 900}),
        ("zh-CN", {"width": 1280, "height": 900}),
        ("en", {"width": 360, "height": 740}),
    ],
)
def test_a_new_superuser_sets_up_the_authenticator_from_the_emailed_link(
    new_superuser, browser, live_server, screenshots, language, viewport
):
    from django.core import mail

    context = browser.new_context(locale=language, viewport=viewport, extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    name = f"second-factor-{language}-{viewport['width']}"
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("input[name=login]", "founder@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/staff/"))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.screenshot(path=screenshots / f"{name}-1-setup.png", full_page=True)
    page.click("form.setup-link button")
    page.wait_for_selector("[data-code=setup_link_sent]")
    page.screenshot(path=screenshots / f"{name}-2-link-sent.png", full_page=True)

    link = re.search(r"https?://\S+/accounts/2fa/staff/\S+/", mail.outbox[-1].body)[0]
    page.goto(link.replace("http://127.0.0.1:8000", live_server.url))
    page.wait_for_url(re.compile(r"/accounts/(reauthenticate|2fa/totp/activate)/"))
    if "/reauthenticate/" in page.url:  # allauth asks for the password again before a second factor changes
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.input_value("#authenticator_secret")
    page.screenshot(path=screenshots / f"{name}-3-activate.png", full_page=True)
    page.fill("input[name=code]", totp_code(secret, time_to_use=10))
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/2fa/recovery-codes/"))
    recovery = page.input_value("#recovery_codes").split()
    assert len(recovery) >= 10
    page.screenshot(path=screenshots / f"{name}-4-recovery-codes.png", full_page=True)

    page.goto(f"{live_server.url}/admin/")  # a code is still asked for: here a recovery code, as with a lost phone
    page.wait_for_url(re.compile(r"/accounts/2fa/reauthenticate/"))
    page.fill("input[name=code]", recovery[0])
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    context.close()
