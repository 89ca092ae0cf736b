"""The support console as support staff use it all day: reasons on every action, attempts across retries, where
the time went, the audit log and its CSV, a user's timeline, a branded admin behind a throttled login and a second
factor."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing import quota
from billing.models import BillingAccount
from portal.accounts.models import User
from portal.jobs import services
from portal.jobs.models import Job, JobStage
from portal.library.upload import store
from portal.support import timeline
from portal.support.models import AuditEvent
from tests.factories import PASSWORD, make_user, running_worker, totp_code, with_second_factor
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan, wait_for
from tests.media import image_bytes, upload


@pytest.fixture
def teacher(transactional_db):
    user = make_user("teacher@example.com")
    give_plan(user, "teacher")
    return user


@pytest.fixture
def support(teacher):
    staff = User.objects.create_user(email="support@example.com", password=PASSWORD, is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    client = Client()
    with_second_factor(client, staff)
    return client, staff


def charged_job(owner) -> Job:
    """A finished video whose render time was charged (so support can refund it)."""
    job = finished_job(owner)
    job.reservation = quota.charge(quota.reserve_seconds(owner, job.quota_seconds, job_ref=str(job.id)))
    job.save(update_fields=["reservation"])
    return job


def change_plan(owner, plan: str) -> User:
    """A superuser sets the owner's plan in admin, as support leads do; returns the superuser."""
    admin = User.objects.filter(email="admin@example.com").first() or User.objects.create_superuser(
        email="admin@example.com", password="x"
    )
    client = Client()
    with_second_factor(client, admin)
    account = BillingAccount.objects.get(user=owner)
    response = client.post(
        reverse("admin:billing_billingaccount_change", args=[account.pk]),
        {"user": owner.pk, "plan_override": plan, "past_due_since_0": "", "past_due_since_1": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return admin


def job_page(client, job) -> str:
    return client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()


def test_an_action_asks_for_a_reason_and_does_nothing_without_one(support, teacher):
    client, _ = support
    job = services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256})
    url = reverse("admin:jobs_job_action", args=[job.pk, "cancel"])
    assert f'href="{url}"' in job_page(client, job)
    confirmation = client.get(url).content.decode()
    assert "Stop this job" in confirmation and "teacher@example.com" in confirmation
    response = client.post(url, {"reason": "   "})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and not AuditEvent.objects.exists()


def test_the_job_page_offers_the_actions_its_state_allows(support, teacher):
    client, _ = support

    def buttons(job):
        return re.findall(r'data-action="([a-z_]+)"', job_page(client, job))

    assert buttons(services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256})) == ["cancel"]
    assert buttons(charged_job(teacher)) == ["refund", "renew_link"]
    assert buttons(finished_job(teacher, status=Job.Status.FAILED, video=None)) == ["retry"]


@pytest.mark.slow
def test_attempts_count_across_a_retry_and_each_run_has_its_own_rows(support, teacher):
    client, _ = support
    _, audio = fixture_inputs(teacher)
    faceless = store.add_portrait(teacher, upload("wall.png", image_bytes("PNG", (400, 400), noise=True)))
    with running_worker():
        job = wait_for(services.submit(teacher, faceless, audio, {"resolution": 256}))
        client.post(reverse("admin:jobs_job_action", args=[job.pk, "retry"]), {"reason": "try once more"})
        job = wait_for(Job.objects.get(pk=job.pk))
    assert job.status == Job.Status.FAILED and job.earlier_attempts + job.attempts == 2
    assert sorted(set(JobStage.objects.filter(job=job).values_list("attempt", flat=True))) == [1, 2]
    assert re.search(r'class="readonly">2</div>', job_page(client, job))  # "Attempts: 2", not 1 again


def test_the_trace_link_opens_the_tracing_backend_when_one_is_configured(support, teacher, settings):
    client, _ = support
    job = finished_job(teacher, trace_id="ab" * 16)
    settings.TRACE_URL_TEMPLATE = ""
    settings.GRAFANA_URL = "https://grafana.example.com"
    link = re.search(r'href="([^"]+)"[^>]*>Open trace ' + job.trace_id, job_page(client, job))
    assert link and link.group(1).startswith("https://grafana.example.com/explore?")
    settings.TRACE_URL_TEMPLATE = "https://tempo.example.com/trace/{trace_id}"
    assert f'href="https://tempo.example.com/trace/{job.trace_id}"' in job_page(client, job)
    settings.TRACE_URL_TEMPLATE = settings.GRAFANA_URL = ""
    page = job_page(client, job)
    assert "Open trace" not in page and reverse("admin:jobs_job_timeline", args=[job.pk]) in page


def test_time_by_stage_shows_wall_clock_apart_from_work_summed_over_parts(support, teacher):
    client, _ = support
    start = timezone.now() - timedelta(minutes=5)
    job = finished_job(teacher, started_at=start, finished_at=start + timedelta(seconds=79), segment_count=2)
    for index in (0, 1):  # two parts animating side by side for 60 s, 10 s apart
        JobStage.objects.create(
            job=job,
            attempt=1,
            segment_index=index,
            name="animate",
            started_at=start + timedelta(seconds=10 * index),
            seconds=60,
        )
    JobStage.objects.create(job=job, attempt=1, name="join", started_at=start + timedelta(seconds=71), seconds=8)
    page = job_page(client, job)
    assert "Job, start to finish: <strong>79.0 s</strong>" in page
    assert "<tr><td>animate</td><td>70.0</td><td>120.0</td></tr>" in page
    assert "<tr><td>join</td><td>8.0</td><td>8.0</td></tr>" in page


def test_output_and_poster_open_through_signed_links(support, teacher):
    client, _ = support
    job = finished_job(teacher)
    page = job_page(client, job)
    assert "/media/" not in page
    for name in ("video", "poster"):
        href = re.search(r'href="(/jobs/download/[^"]+)">' + name, page).group(1)
        assert Client().get(href).status_code == 200, name  # the link is the grant: no session needed


def test_plan_changes_are_in_the_audit_log_with_the_old_and_new_plan(support, teacher):
    client, _ = support
    admin = change_plan(teacher, "pro")
    event = AuditEvent.objects.get(action="plan_changed")
    assert (event.actor, event.user, event.changes) == (admin, teacher, {"plan": ["teacher", "pro"]})
    assert timeline.audit_summary(event) == "Teacher → Pro"
    listing = client.get(reverse("admin:support_auditevent_changelist"), {"q": "teacher@example.com"})
    assert "Teacher → Pro" in listing.content.decode() and "admin@example.com" in listing.content.decode()


def test_the_audit_log_exports_a_date_range_as_csv(support, teacher):
    client, staff = support
    job = charged_job(teacher)
    client.post(reverse("admin:jobs_job_action", args=[job.pk, "refund"]), {"reason": "blurry, said the user"})
    AuditEvent.objects.create(action="refund", source="admin", user=teacher, user_email=teacher.email, reason="old")
    AuditEvent.objects.filter(reason="old").update(created_at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    export = client.get(
        reverse("admin:support_auditevent_export"), {"from": str(today - timedelta(days=7)), "to": str(today)}
    )
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["time (UTC)", "actor", "source", "action", "user", "job", "what", "reason"]
    assert [row[1:] for row in rows[1:]] == [
        [staff.email, "admin", "refund", teacher.email, str(job.pk), "10 s", "blurry, said the user"]
    ]


def test_the_users_page_shows_the_account_timeline(support, teacher):
    client, _ = support
    change_plan(teacher, "pro")
    job = charged_job(teacher)
    client.post(reverse("admin:jobs_job_action", args=[job.pk, "refund"]), {"reason": "wrong voice"})
    page = client.get(reverse("admin:accounts_user_change", args=[teacher.pk])).content.decode()
    timeline = page[page.index('class="account-timeline"') :]
    for text in (
        "Signed up",
        "Plan changed",
        "Teacher → Pro",
        f"Job {str(job.id)[:8]} submitted",
        "Render time refunded",
        "wrong voice",
        "by support@example.com",
    ):
        assert text in timeline, text
    assert timeline.index("Render time refunded") < timeline.index("Signed up")  # newest first


def test_the_admin_is_branded_with_one_section_per_app(support):
    client, _ = support
    page = client.get(reverse("admin:index")).content.decode()
    assert "<title>Find a job, an account or an audit event | Sonic Portal support</title>" in page
    assert "Django administration" not in page
    sections = re.findall(r'<caption>\s*<a[^>]*class="section"[^>]*>([^<]+)</a>', page)
    assert len(sections) == len(set(sections)) and "Support" in sections, sections


def test_the_admin_login_is_the_portals_throttled_login(db):
    User.objects.create_user(email="staff@example.com", password=PASSWORD, is_staff=True)
    cache.clear()
    anonymous = Client()
    response = anonymous.get(reverse("admin:login"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))
    guesses = [
        anonymous.post(reverse("account_login"), {"login": "staff@example.com", "password": "wrong"}) for _ in range(6)
    ]
    throttled = [b"Too many failed login attempts" in page.content for page in guesses]
    assert throttled == [False] * 5 + [True]  # five failures per account in five minutes, as for every user
    right = anonymous.post(reverse("account_login"), {"login": "staff@example.com", "password": PASSWORD})
    assert b"Too many failed login attempts" in right.content  # even the right password waits


def test_staff_who_can_refund_must_set_up_and_use_a_second_factor(teacher):
    staff = make_user("support@example.com")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    browser = Client()
    assert browser.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD}).status_code == 302
    response = browser.get(reverse("admin:jobs_job_changelist"))
    assert response.status_code == 302 and response.url.startswith(reverse("second_factor_setup"))
    browser.post(reverse("second_factor_setup"))  # the first app is set up from a link emailed to them
    link = re.search(r"/accounts/2fa/staff/\S+/", mail.outbox[-1].body)[0]
    setup = browser.get(link, follow=True)  # allauth asks for the password again before MFA changes
    if setup.redirect_chain and "reauthenticate" in setup.redirect_chain[-1][0]:
        setup = browser.post(setup.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    assert setup.redirect_chain[-1][0].startswith(reverse("mfa_activate_totp"))
    assert "data:image/svg+xml" in setup.content.decode()  # the QR code for the authenticator app

    secret = with_second_factor(Client(), staff)  # staff sets up an authenticator app
    fresh = Client()
    step = fresh.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert step.status_code == 302 and step.url == reverse("mfa_authenticate")  # the password is not enough
    assert fresh.get(reverse("admin:jobs_job_changelist")).status_code == 302
    assert fresh.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}).status_code == 302
    assert fresh.get(reverse("admin:jobs_job_changelist")).status_code == 200


def test_staff_who_cannot_refund_need_no_second_factor(db):
    viewer = User.objects.create_user(email="viewer@example.com", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(viewer)
    assert client.get(reverse("admin:index")).status_code == 200
