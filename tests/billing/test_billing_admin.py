from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from billing.models import BillingAccount, BillingEvent, StripeEvent, StripePrice, UsagePeriod, plan_for
from billing.plans import BUSINESS, FREE, PRO, TEACHER
from billing.quota import reserve_seconds
from portal.accounts.models import User
from portal.support.models import AuditEvent
from tests.billing.billing_helpers import event, post_event, subscription
from tests.factories import with_second_factor


@pytest.fixture
def staff_client(client, db):
    with_second_factor(client, User.objects.create_superuser(email="support@example.com", password="x"))
    return client


def test_support_sees_any_accounts_billing_state(staff_client, owner, billing_on):
    account = BillingAccount.objects.create(user=owner, stripe_customer_id="cus_1")
    billing_on.put_subscription(subscription(plan=PRO))
    post_event(staff_client, event("customer.subscription.created", billing_on.objects["/v1/subscriptions/sub_1"]))
    reserve_seconds(owner, 120, "job-1")
    period = UsagePeriod.objects.get(user=owner)
    user_page = staff_client.get(f"/admin/accounts/user/{owner.pk}/change/").content.decode()
    for text in ["Plan in effect", "Pro", "cus_1", "sub_1", "active", "120 s held of 14400 s", "100.0\xa0GB"]:
        assert text in user_page, text
    pages = [
        "/admin/billing/billingaccount/",
        f"/admin/billing/billingaccount/{account.pk}/change/",
        "/admin/billing/billingaccount/?q=cus_1",
        "/admin/billing/billingevent/",
        "/admin/billing/stripeevent/",
        f"/admin/billing/stripeevent/{StripeEvent.objects.get().pk}/change/",
        "/admin/billing/usageperiod/",
        f"/admin/billing/usageperiod/{period.pk}/change/",
        "/admin/billing/reservation/",
        "/admin/billing/stripeprice/",
        f"/admin/accounts/user/{User.objects.get(email='support@example.com').pk}/change/",  # no account yet
        "/admin/accounts/user/add/",
    ]
    for page in pages:
        assert staff_client.get(page).status_code == 200, page
    assert "owner@example.com" in staff_client.get("/admin/billing/billingaccount/?q=cus_1").content.decode()


def test_staff_assign_a_plan_in_admin_and_it_is_audited(staff_client, owner):
    """Billing off (no keys): the only way to a paid plan is a staff assignment."""
    account = BillingAccount.objects.create(user=owner)
    response = staff_client.post(
        f"/admin/billing/billingaccount/{account.pk}/change/",
        {"user": owner.pk, "plan_override": TEACHER, "past_due_since": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert plan_for(owner).code == TEACHER
    audit = BillingEvent.objects.get(account=account)
    assert (audit.source, audit.kind, audit.actor.email) == ("admin", "staff_change", "support@example.com")
    assert audit.before["effective_plan"] == FREE and audit.after["effective_plan"] == TEACHER


def test_staff_assign_a_plan_from_the_users_page(staff_client, owner):
    prefix = "billing_account-"
    data = {
        "email": owner.email,
        "name": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        f"{prefix}TOTAL_FORMS": "1",
        f"{prefix}INITIAL_FORMS": "0",
        f"{prefix}MIN_NUM_FORMS": "0",
        f"{prefix}MAX_NUM_FORMS": "1",
        f"{prefix}0-plan_override": BUSINESS,
        f"{prefix}0-past_due_since_0": "",
        f"{prefix}0-past_due_since_1": "",
        f"{prefix}0-user": owner.pk,
    }
    response = staff_client.post(f"/admin/accounts/user/{owner.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert plan_for(owner).code == BUSINESS
    assert BillingEvent.objects.get(account__user=owner).actor.email == "support@example.com"


def test_support_grants_extra_seconds_for_a_period(staff_client, owner):
    for n in range(5):
        reserve_seconds(owner, 60, f"job-{n}")
    period = UsagePeriod.objects.get(user=owner)
    response = staff_client.post(
        f"/admin/billing/usageperiod/{period.pk}/change/",
        {
            "extra_seconds": "120",
            "entries-TOTAL_FORMS": "5",
            "entries-INITIAL_FORMS": "5",
            "entries-MIN_NUM_FORMS": "0",
            "entries-MAX_NUM_FORMS": "1000",
            **{f"entries-{n}-id": str(e.pk) for n, e in enumerate(period.entries.all())},
            **{f"entries-{n}-period": str(period.pk) for n in range(5)},
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    reserve_seconds(owner, 60, "job-5")
    reserve_seconds(owner, 60, "job-6")
    assert BillingEvent.objects.get(account__user=owner).kind == "extra_seconds_granted"


def test_support_can_resync_an_account_from_stripe(staff_client, owner, billing_on):
    now = timezone.now()
    account = BillingAccount.objects.create(
        user=owner,
        stripe_customer_id="cus_1",
        stripe_subscription_id="sub_1",
        subscription_status="active",
        subscribed_plan=PRO,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
    )
    billing_on.put_subscription(subscription(plan=PRO, status="past_due"))
    response = staff_client.post(
        "/admin/billing/billingaccount/", {"action": "resync_from_stripe", "_selected_action": [account.pk]}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.subscription_status == "past_due" and account.past_due_since is not None
    audit = BillingEvent.objects.get(account=account)
    assert (audit.source, audit.actor.email) == ("admin", "support@example.com")


def test_sync_stripe_plans_creates_products_and_prices_once(db, billing_on):
    out = StringIO()
    call_command("sync_stripe_plans", stdout=out)
    assert "pro: product created; price created" in out.getvalue()
    products = billing_on.made("POST", "/v1/products")
    assert [p.params["id"] for p in products] == ["sonic_teacher", "sonic_pro", "sonic_business"]
    prices = billing_on.made("POST", "/v1/prices")
    assert [
        (
            p.params["lookup_key"],
            p.params["unit_amount"],
            p.params["recurring[interval]"],
            p.params["transfer_lookup_key"],
        )
        for p in prices
    ] == [
        ("sonic_teacher_monthly", "900", "month", "true"),
        ("sonic_pro_monthly", "2900", "month", "true"),
        ("sonic_business_monthly", "9900", "month", "true"),
    ]
    assert prices[0].params["product"] == "sonic_teacher" and prices[0].params["metadata[plan]"] == "teacher"
    first_ids = dict(StripePrice.objects.values_list("plan_code", "price_id"))
    assert set(first_ids) == {TEACHER, PRO, BUSINESS}

    billing_on.requests.clear()
    out = StringIO()
    call_command("sync_stripe_plans", stdout=out)
    assert out.getvalue().count("product unchanged; price unchanged") == 3
    assert {r.method for r in billing_on.requests} == {"GET"}  # nothing created or changed
    assert dict(StripePrice.objects.values_list("plan_code", "price_id")) == first_ids

    # someone changed the Pro price in the Stripe dashboard: the plan table wins, the old price is retired
    billing_on.objects[f"/v1/prices/{first_ids[PRO]}"]["unit_amount"] = 1000
    billing_on.objects["/v1/products/sonic_pro"]["name"] = "Renamed"
    billing_on.requests.clear()
    call_command("sync_stripe_plans", stdout=StringIO())
    assert [(r.method, r.path) for r in billing_on.requests if r.method == "POST"] == [
        ("POST", "/v1/products/sonic_pro"),
        ("POST", "/v1/prices"),
        ("POST", f"/v1/prices/{first_ids[PRO]}"),
    ]
    assert billing_on.objects[f"/v1/prices/{first_ids[PRO]}"]["active"] is False
    assert StripePrice.objects.get(plan_code=PRO).price_id != first_ids[PRO]


def test_sync_stripe_plans_needs_billing_on_and_reports_stripe_errors(db, billing_on, settings):
    billing_on.fail_with = 401
    with pytest.raises(CommandError, match="Stripe refused"):
        call_command("sync_stripe_plans", stdout=StringIO())
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY is not set"):
        call_command("sync_stripe_plans", stdout=StringIO())


def test_resync_command_catches_up_on_missed_webhooks(owner, outsider, billing_on):
    now = timezone.now()
    stale = BillingAccount.objects.create(
        user=owner,
        stripe_customer_id="cus_1",
        stripe_subscription_id="sub_1",
        subscription_status="active",
        subscribed_plan=PRO,
        current_period_start=now - timedelta(days=31),
        current_period_end=now - timedelta(days=1),
        synced_at=now - timedelta(days=31),
    )
    fresh = BillingAccount.objects.create(
        user=outsider,
        stripe_customer_id="cus_2",
        stripe_subscription_id="sub_2",
        subscription_status="active",
        subscribed_plan=TEACHER,
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
        synced_at=now,
    )
    billing_on.put_subscription(subscription("sub_1", plan=PRO, start=now.timestamp() - 3600))  # renewed
    billing_on.put_subscription(subscription("sub_2", customer="cus_2", plan=TEACHER))
    out = StringIO()
    call_command("resync_stripe_subscriptions", stdout=out)
    assert "1 account(s) re-synced" in out.getvalue()
    assert [r.path for r in billing_on.requests] == ["/v1/subscriptions/sub_1"]
    stale.refresh_from_db()
    assert stale.current_period_end > now and BillingEvent.objects.get(account=stale).source == "resync_command"
    call_command("resync_stripe_subscriptions", "--all", stdout=out)
    assert len(billing_on.requests) == 3
    fresh.refresh_from_db()
    assert (fresh.subscription_status, plan_for(outsider).code) == ("active", TEACHER)


def test_a_plan_change_by_stripe_is_in_the_audit_log_and_the_users_timeline(staff_client, owner, billing_on):
    BillingAccount.objects.create(user=owner, stripe_customer_id="cus_1")
    billing_on.put_subscription(subscription(plan=PRO))
    post_event(staff_client, event("customer.subscription.created", billing_on.objects["/v1/subscriptions/sub_1"]))
    change = AuditEvent.objects.get(action="plan_changed")
    assert (change.actor, change.source, change.user, change.changes) == (None, "webhook", owner, {"plan": [FREE, PRO]})
    page = staff_client.get(f"/admin/accounts/user/{owner.pk}/change/").content.decode()
    timeline = page[page.index('class="account-timeline"') :]
    assert "Free → Pro · by webhook" in timeline and "Billing: subscription synced" in timeline
