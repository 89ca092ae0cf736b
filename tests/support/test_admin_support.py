"""The support console in admin: a Support user finds a job, sees its trace and timeline, acts on it, and every
action is in the audit log; the group cannot do what it is not meant to."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from billing import quota
from billing.models import BillingAccount, StripePrice
from portal.accounts.models import User
from portal.jobs import services
from portal.jobs.models import Job, JobStage
from portal.library.upload import store
from portal.support.models import AuditEvent
from tests.factories import make_user, running_worker, with_second_factor
from tests.jobs_helpers import fixture_inputs, give_plan, reservation_state, wait_for
from tests.media import image_bytes, upload

CHANGELIST = reverse("admin:jobs_job_changelist")


@pytest.fixture
def teacher(transactional_db):
    user = make_user("teacher@example.com")
    give_plan(user, "teacher")
    BillingAccount.objects.filter(user=user).update(stripe_customer_id="cus_T1", stripe_subscription_id="sub_T1")
    return user


def staff_client(email: str, group: str | None) -> tuple[Client, User]:
    staff = User.objects.create_user(email=email, password="x", is_staff=True)
    if group:
        staff.groups.add(Group.objects.get(name=group))
    client = Client()
    if staff.has_perm("jobs.refund_job"):
        with_second_factor(client, staff)
    else:
        client.force_login(staff)
    return client, staff


@pytest.fixture
def support(teacher):
    return staff_client("support@example.com", "Support")


def run_action(client, action: str, job: Job, reason: str = "asked by the user") -> list[str]:
    """What support does on the job page: the action's button, then its confirmation with a reason."""
    url = reverse("admin:jobs_job_action", args=[job.pk, action])
    confirmation = client.get(url)
    assert confirmation.status_code == 200 and 'name="reason"' in confirmation.content.decode()
    response = client.post(url, {"reason": reason}, follow=True)
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


@pytest.mark.slow
def test_support_finds_a_failed_job_by_its_support_code_and_sees_where_it_failed(support, teacher):
    _, audio = fixture_inputs(teacher)
    faceless = store.add_portrait(teacher, upload("wall.png", image_bytes("PNG", (400, 400), noise=True)))
    with running_worker():
        failed = wait_for(services.submit(teacher, faceless, audio, {"resolution": 256}))
    other_portrait, other_audio = fixture_inputs(teacher)
    services.submit(teacher, other_portrait, other_audio, {"resolution": 256})  # a second job, not to be found
    assert failed.status == Job.Status.FAILED and failed.error_code == "no_face"

    # What the user reads out from their job page...
    code = failed.support_code
    owner_page = Client()
    owner_page.force_login(teacher)
    assert code in owner_page.get(reverse("jobs:detail", args=[failed.pk])).content.decode()

    # ... finds exactly that job, however it is typed.
    support_client, _ = support
    for typed in (code, code.lower(), code.replace("-", ""), failed.trace_id, str(failed.pk), "teacher@example"):
        page = support_client.get(CHANGELIST, {"q": typed}).content.decode()
        assert str(failed.pk) in page, typed
    only = support_client.get(CHANGELIST, {"q": code}).context["cl"].result_list
    assert [job.pk for job in only] == [failed.pk]

    page = support_client.get(reverse("admin:jobs_job_change", args=[failed.pk])).content.decode()
    timeline_url = reverse("admin:jobs_job_timeline", args=[failed.pk])
    assert f'<a href="{timeline_url}">Open timeline</a>' in page  # no tracing backend here: the stages we keep
    timeline = support_client.get(timeline_url).content.decode()
    assert "no_face" in timeline and timeline.count('class="stage') >= 4
    for stage in ("download_inputs", "load_audio", "analyse_audio", "preprocess_image"):
        assert re.search(rf'class="field-name">\s*<p>{stage}</p>', page), stage
    assert "no_face" in page and "not qualified" not in page  # it failed before anything was rendered

    # A failed job was refunded when it failed: support is told so, and nothing is logged as done.
    messages = run_action(support_client, "refund", failed)
    assert "already given back" in messages[0] and "already_refunded" in messages[0]
    assert not AuditEvent.objects.filter(job=failed).exists()


@pytest.mark.slow
def test_support_refunds_a_video_that_came_out_wrong_and_the_audit_log_shows_it(support, teacher):
    client, staff = support
    portrait, audio = fixture_inputs(teacher)
    with running_worker():
        job = wait_for(services.submit(teacher, portrait, audio, {"resolution": 256}))
    assert job.status == Job.Status.SUCCEEDED and quota.usage_summary(teacher)["used_seconds"] == 10
    page = client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()
    assert job.quality_gate.startswith("passed: ") and " reference cases at " in job.quality_gate
    assert job.renderer_version in page and job.quality_gate in page
    assert JobStage.objects.filter(job=job, name="animate").exists() and "Time by stage" in page

    messages = run_action(client, "refund", job, reason="The mouth was out of sync")
    assert messages == ["Refunded 10 s of render time."]
    assert quota.usage_summary(teacher)["used_seconds"] == 0 and reservation_state(job) == "refunded"

    event = AuditEvent.objects.get(job=job)
    assert (event.actor, event.action, event.user, event.reason, event.changes) == (
        staff,
        "refund",
        teacher,
        "The mouth was out of sync",
        {"seconds": 10},
    )
    audit = client.get(reverse("admin:support_auditevent_changelist"), {"q": job.pk}).content.decode()
    assert "support@example.com" in audit and "The mouth was out of sync" in audit and "10 s" in audit
    owner_page = Client()
    owner_page.force_login(teacher)
    assert (
        "Support refunded 10 s of render time: The mouth was out of sync"
        in owner_page.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    )

    assert "already given back" in run_action(client, "refund", job)[0]  # a second refund gives nothing more
    assert AuditEvent.objects.filter(job=job).count() == 1


@pytest.mark.slow
def test_support_cancels_then_retries_a_job_in_the_same_trace(support, teacher, finished_spans):
    client, staff = support
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 256})  # queued; no worker runs yet

    assert run_action(client, "cancel", job, reason="Duplicate of another job") == ["Canceled by support."]
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED and reservation_state(job) == "refunded"
    owner_page = Client()
    owner_page.force_login(teacher)
    assert (
        "Canceled by support: Duplicate of another job"
        in owner_page.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    )

    with running_worker():
        assert run_action(client, "retry", job, reason="The user wants it after all") == [
            "Queued again (retry by support)."
        ]
        job = wait_for(job)
    assert job.status == Job.Status.SUCCEEDED and reservation_state(job) == "charged"
    assert quota.usage_summary(teacher)["used_seconds"] == 10  # charged once, for the render that happened
    sends = [span for span in finished_spans() if span.name == "send render_job_builtin_paid"]
    assert {format(span.context.trace_id, "032x") for span in sends} == {job.trace_id}
    assert list(AuditEvent.objects.filter(actor=staff).order_by("pk").values_list("action", "reason")) == [
        ("cancel", "Duplicate of another job"),
        ("retry", "The user wants it after all"),
    ]

    assert "job_not_retryable" in run_action(client, "retry", job)[0]  # a succeeded job is not retried


@pytest.mark.slow
def test_support_renews_a_download_link_that_works(support, teacher):
    client, _ = support
    portrait, audio = fixture_inputs(teacher)
    with running_worker():
        job = wait_for(services.submit(teacher, portrait, audio, {"resolution": 256}))
    (message,) = run_action(client, "renew_link", job, reason="The user's link expired during a workshop")
    link = message.split("New download link: ")[1]
    assert AuditEvent.objects.get(job=job).action == "renew_link"
    assert Client().get(link.removeprefix("http://testserver")).status_code == 200


def test_support_sees_the_users_plan_usage_storage_stripe_and_jobs(support, teacher):
    client, _ = support
    portrait, audio = fixture_inputs(teacher)
    services.submit(teacher, portrait, audio, {"resolution": 256})
    page = client.get(reverse("admin:accounts_user_change", args=[teacher.pk])).content.decode()
    assert "Teacher" in page and "s/period" in page and "Usage this period" in page
    assert 'href="https://dashboard.stripe.com/customers/cus_T1"' in page
    assert 'href="https://dashboard.stripe.com/subscriptions/sub_T1"' in page
    jobs_link = f"{CHANGELIST}?owner__id__exact={teacher.pk}&amp;status__exact=queued"
    assert f'<a href="{jobs_link}">queued 1</a>' in page
    listed = client.get(CHANGELIST, {"owner__id__exact": teacher.pk}).context["cl"].result_list
    assert [job.owner for job in listed] == [teacher]


def test_the_support_group_cannot_change_plans_prices_or_users(support, teacher):
    client, _ = support
    account = BillingAccount.objects.get(user=teacher)
    price = StripePrice.objects.create(
        plan_code="pro", lookup_key="pro", product_id="prod_1", price_id="price_1", unit_amount=4900
    )
    forbidden = [
        (reverse("admin:accounts_user_delete", args=[teacher.pk]), {"post": "yes"}),
        (reverse("admin:accounts_user_change", args=[teacher.pk]), {"email": "taken@example.com"}),
        (reverse("admin:billing_billingaccount_change", args=[account.pk]), {"plan_override": "business"}),
        (reverse("admin:billing_stripeprice_change", args=[price.pk]), {"unit_amount": 1}),
    ]
    for url, data in forbidden:
        assert client.post(url, data).status_code == 403, url
    assert User.objects.filter(pk=teacher.pk, email="teacher@example.com").exists()
    account.refresh_from_db()
    assert account.plan_override == "teacher"
    job = services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256})
    buttons = re.findall(
        r'data-action="([a-z_]+)"', client.get(reverse("admin:jobs_job_change", args=[job.pk])).content.decode()
    )
    assert buttons == ["cancel"]  # what a queued job allows (tests/support/test_support_console.py has the others)


def test_staff_outside_the_support_group_cannot_act_on_jobs(teacher):
    client, _ = staff_client("intern@example.com", None)
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 256})
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(reverse("admin:jobs_job_change", args=[job.pk])).status_code == 403
    assert client.post(reverse("admin:jobs_job_action", args=[job.pk, "cancel"]), {"reason": "x"}).status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_users_who_are_not_staff_are_sent_to_the_admin_login(teacher, client):
    portrait, audio = fixture_inputs(teacher)
    job = services.submit(teacher, portrait, audio, {"resolution": 256})
    client.force_login(make_user("outsider@example.com"))
    audit_log = reverse("admin:admin_logentry_changelist")
    for url in (CHANGELIST, reverse("admin:jobs_job_change", args=[job.pk]), audit_log):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url
