"""Signed webhook events posted through the test client; Stripe's API is the recording fake (billing_helpers)."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import quota
from billing.models import BillingAccount, BillingEvent, StripeEvent, plan_for
from billing.plans import FREE, PRO, TEACHER, get_plan
from portal.library.usage import storage_quota_bytes
from tests.billing.billing_helpers import DAY, event, post_event, sign, subscription


@pytest.fixture
def account(owner, billing_on):
    return BillingAccount.objects.create(user=owner, stripe_customer_id="cus_1")


def deliver(client, evt, expect="processed"):
    response = post_event(client, evt)
    assert response.status_code == 200, response.content
    assert response.json() == {"received": evt["id"], "outcome": expect}
    return response


def state(owner):
    account = BillingAccount.objects.get(user=owner)
    return plan_for(owner).code, account.subscription_status, account.subscribed_plan


def test_a_new_subscription_gives_the_plan_and_its_quotas(client, owner, account, billing_on):
    sub = billing_on.put_subscription(subscription(plan=PRO))
    deliver(client, event("customer.subscription.created", sub))

    assert state(owner) == (PRO, "active", PRO)
    account.refresh_from_db()
    start = sub["items"]["data"][0]["current_period_start"]
    assert account.current_period_start.timestamp() == start
    assert account.current_period_end.timestamp() == start + 30 * DAY
    assert [r.path for r in billing_on.requests] == ["/v1/subscriptions/sub_1"]
    assert billing_on.requests[0].headers["Authorization"] == "Bearer sk_test_fake"
    summary = quota.usage_summary(owner)
    assert summary["allowance_seconds"] == get_plan(PRO).monthly_render_seconds
    assert summary["period_start"] == account.current_period_start
    assert storage_quota_bytes(owner) == get_plan(PRO).storage_bytes
    audit = BillingEvent.objects.get(account=account)
    assert (audit.source, audit.kind) == ("webhook", "subscription_synced")
    assert audit.before["effective_plan"] == FREE and audit.after["effective_plan"] == PRO
    stored = StripeEvent.objects.get()
    assert (stored.outcome, stored.account) == ("processed", account)


def test_a_duplicate_event_is_answered_200_and_has_no_effect(client, owner, account, billing_on):
    sub = billing_on.put_subscription(subscription(plan=PRO))
    evt = event("customer.subscription.created", sub)
    deliver(client, evt)
    sub["status"] = "canceled"  # even if Stripe's state moved on, a repeat of an old event does nothing
    deliver(client, evt, expect="duplicate")
    assert state(owner) == (PRO, "active", PRO)
    assert len(billing_on.requests) == 1
    assert StripeEvent.objects.count() == 1 and BillingEvent.objects.count() == 1


def test_events_out_of_order_converge_on_stripes_current_state(client, owner, account, billing_on):
    # Stripe's truth: the customer upgraded teacher -> pro and then set the subscription to cancel at period end.
    sub = billing_on.put_subscription(subscription(plan=PRO, cancel_at_period_end=True))
    updated = event("customer.subscription.updated", sub, created=time.time())
    created = event("customer.subscription.created", subscription(plan=TEACHER), created=time.time() - 60)
    paid = event("invoice.paid", {"id": "in_1", "customer": "cus_1", "subscription": "sub_1"}, created=time.time() - 30)
    deliver(client, updated)
    deliver(client, paid)
    deliver(client, created)  # the oldest arrives last: its body says teacher, Stripe says pro
    assert state(owner) == (PRO, "active", PRO)
    assert BillingAccount.objects.get(user=owner).cancel_at_period_end
    assert BillingEvent.objects.count() == 1  # the two late events found nothing to change


def test_payment_failure_keeps_the_plan_for_the_grace_period_with_a_banner(client, owner, account, billing_on):
    sub = billing_on.put_subscription(subscription(plan=PRO))
    deliver(client, event("customer.subscription.created", sub))
    sub["status"] = "past_due"
    failed = event("invoice.payment_failed", {"id": "in_2", "customer": "cus_1", "subscription": "sub_1"})
    deliver(client, failed)
    assert state(owner) == (PRO, "past_due", PRO)
    client.force_login(owner)
    page = client.get("/library/").content.decode()
    assert 'data-code="past_due"' in page and "Your last payment failed" in page

    # a second failure (Stripe retries) does not restart the grace period
    account.refresh_from_db()
    first_failure = account.past_due_since
    deliver(client, event("invoice.payment_failed", {"id": "in_2", "customer": "cus_1", "subscription": "sub_1"}))
    account.refresh_from_db()
    assert account.past_due_since == first_failure

    BillingAccount.objects.filter(pk=account.pk).update(past_due_since=timezone.now() - timedelta(days=8))
    assert plan_for(owner).code == FREE  # grace over: Free limits, Free storage
    assert quota.usage_summary(owner)["allowance_seconds"] == get_plan(FREE).monthly_render_seconds
    assert 'data-code="past_due"' not in client.get("/library/").content.decode()

    sub["status"] = "active"  # the customer fixed their card
    deliver(client, event("invoice.paid", {"id": "in_2", "customer": "cus_1", "subscription": "sub_1"}))
    assert state(owner) == (PRO, "active", PRO)
    assert BillingAccount.objects.get(user=owner).past_due_since is None


def test_new_api_invoices_name_the_subscription_under_parent(client, owner, account, billing_on):
    billing_on.put_subscription(subscription(plan=TEACHER))
    invoice = {
        "id": "in_3",
        "customer": "cus_1",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
    }
    deliver(client, event("invoice.paid", invoice))
    assert state(owner) == (TEACHER, "active", TEACHER)


@pytest.mark.parametrize("status", ["canceled", "unpaid", "incomplete_expired"])
def test_an_ended_subscription_keeps_the_plan_until_the_period_ends_then_free(
    client, owner, account, billing_on, status
):
    sub = billing_on.put_subscription(subscription(plan=PRO))
    deliver(client, event("customer.subscription.created", sub))
    sub["status"] = status
    deliver(client, event("customer.subscription.deleted", sub))
    assert state(owner) == (PRO, status, PRO)
    client.force_login(owner)
    page = client.get("/billing/").content.decode()
    assert 'data-plan="pro"' in page and "Paid plan ends" in page and "/billing/checkout/teacher/" in page
    period_end = BillingAccount.objects.get(user=owner).current_period_end
    assert quota.current_period(owner)[1] == period_end
    after_end = period_end + timedelta(seconds=1)
    assert BillingAccount.objects.get(user=owner).effective_plan_code(after_end) == FREE
    # and usage then counts in months from signup again
    assert quota.current_period(owner, after_end) == quota.monthly_period(owner.date_joined, after_end)


def test_incomplete_subscriptions_give_nothing(client, owner, account, billing_on):
    billing_on.put_subscription(subscription(plan=PRO, status="incomplete"))
    deliver(client, event("customer.subscription.created", billing_on.objects["/v1/subscriptions/sub_1"]))
    assert state(owner) == (FREE, "incomplete", PRO)


def test_a_late_end_of_an_old_subscription_does_not_undo_the_new_one(client, owner, account, billing_on):
    old = billing_on.put_subscription(subscription("sub_old", plan=TEACHER))
    deliver(client, event("customer.subscription.created", old))
    new = billing_on.put_subscription(subscription("sub_new", plan=PRO))
    old["status"] = "canceled"
    deliver(client, event("customer.subscription.created", new))
    deliver(client, event("customer.subscription.deleted", old))
    account.refresh_from_db()
    assert (account.stripe_subscription_id, plan_for(owner).code) == ("sub_new", PRO)


def test_checkout_completed_links_the_customer_and_the_subscription(client, owner, billing_on):
    BillingAccount.objects.create(user=owner)  # made by our checkout view before the customer id came back
    billing_on.put_subscription(subscription("sub_9", customer="cus_9", plan=TEACHER))
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": "cus_9",
        "subscription": "sub_9",
        "client_reference_id": str(owner.pk),
    }
    deliver(client, event("checkout.session.completed", session))
    account = BillingAccount.objects.get(user=owner)
    assert (account.stripe_customer_id, account.stripe_subscription_id) == ("cus_9", "sub_9")
    assert plan_for(owner).code == TEACHER


def test_unknown_types_and_unknown_customers_are_acknowledged_and_ignored(client, owner, account, billing_on):
    deliver(client, event("customer.updated", {"id": "cus_1", "customer": "cus_1"}), expect="ignored")
    deliver(client, event("customer.subscription.updated", subscription(customer="cus_nobody")), expect="no_account")
    deliver(client, event("invoice.paid", {"id": "in_4", "customer": "cus_1"}), expect="ignored")  # one-off invoice
    assert billing_on.requests == []
    assert state(owner) == (FREE, "", "")
    assert set(StripeEvent.objects.values_list("outcome", flat=True)) == {"ignored", "no_account"}


@pytest.mark.parametrize(
    ("how", "code"),
    [
        ("tampered", "invalid_signature"),
        ("wrong_secret", "invalid_signature"),
        ("stale", "stale_signature"),
        ("missing", "missing_signature"),
        ("garbage_header", "invalid_signature"),
        ("not_json", "invalid_payload"),
        ("not_an_event", "invalid_payload"),
    ],
)
def test_unverifiable_deliveries_are_refused_with_400_and_change_nothing(client, owner, account, billing_on, how, code):
    billing_on.put_subscription(subscription(plan=PRO))
    evt = event("customer.subscription.created", billing_on.objects["/v1/subscriptions/sub_1"])
    body = json.dumps(evt).encode()
    kwargs = {
        "tampered": {
            "body": body.replace(b'"pro"', b'"business"').replace(b"sub_1", b"sub_2"),
            "signature": sign(body),
        },
        "wrong_secret": {"signature": sign(body, secret="whsec_other")},
        "stale": {"timestamp": time.time() - 301},
        "missing": {"signature": ""},
        "garbage_header": {"signature": "nonsense"},
        "not_json": {"body": b"{not json"},
        "not_an_event": {"body": b'{"hello": "world"}'},
    }[how]
    response = post_event(client, evt, **kwargs)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert not StripeEvent.objects.exists() and billing_on.requests == []
    assert plan_for(owner).code == FREE


def test_when_stripe_cannot_be_read_nothing_is_stored_and_the_retry_works(client, owner, account, billing_on):
    sub = billing_on.put_subscription(subscription(plan=PRO))
    evt = event("customer.subscription.created", sub)
    billing_on.fail_with = 500
    response = post_event(client, evt)
    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    assert not StripeEvent.objects.exists()
    billing_on.fail_with = None
    deliver(client, evt)  # Stripe's redelivery
    assert state(owner) == (PRO, "active", PRO)


def test_with_billing_off_the_webhook_answers_503(client, owner, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(client, event("customer.subscription.created", subscription()))
    assert response.status_code == 503 and response.json()["error"]["code"] == "billing_not_configured"


def test_the_webhook_takes_only_post(client, billing_on):
    assert client.get("/billing/stripe/webhook/").status_code == 405


EXPECTED_PLAN = {
    "active": True,
    "trialing": True,
    "past_due": True,
    "canceled": True,
    "unpaid": True,
    "incomplete_expired": True,
    "incomplete": False,
}
EVENT_FOR = {
    "active": "invoice.paid",
    "trialing": "customer.subscription.updated",
    "past_due": "invoice.payment_failed",
    "canceled": "customer.subscription.deleted",
    "unpaid": "customer.subscription.updated",
    "incomplete_expired": "customer.subscription.updated",
    "incomplete": "customer.subscription.updated",
}


@pytest.mark.parametrize("seed", range(6))
def test_any_sequence_of_late_and_repeated_events_ends_at_stripes_state(client, owner, account, billing_on, seed):
    """Stripe's subscription goes through random changes; their events arrive late, shuffled and repeated. After
    every processed delivery the account mirrors Stripe as it is then, and the plan and quotas follow from it."""
    import random

    rng = random.Random(seed)
    sub = billing_on.put_subscription(subscription(plan=TEACHER))
    pending = [event("customer.subscription.created", dict(sub))]
    for _ in range(10):
        change = rng.choice(["status", "plan", "cancel_flag"])
        if change == "status":
            sub["status"] = rng.choice(list(EXPECTED_PLAN))
        elif change == "plan":
            sub["items"]["data"][0]["price"]["lookup_key"] = get_plan(rng.choice([TEACHER, PRO, "business"])).lookup_key
        else:
            sub["cancel_at_period_end"] = not sub["cancel_at_period_end"]
        evt = event(
            EVENT_FOR[sub["status"]],
            {"id": "in_x", "customer": "cus_1", "subscription": "sub_1"}
            if EVENT_FOR[sub["status"]].startswith("invoice.")
            else dict(sub),
        )
        pending.append(evt)
        # deliver a random number of the pending events, in random order, sometimes twice
        rng.shuffle(pending)
        for evt in pending[: rng.randint(0, len(pending))]:
            for _ in range(rng.choice([1, 1, 2])):
                post_event(client, evt)
            pending.remove(evt)
            check_mirrors(owner, sub)
    for evt in pending:
        post_event(client, evt)
    if pending:
        check_mirrors(owner, sub)
    processed = StripeEvent.objects.filter(outcome="processed").count()
    assert processed == len(billing_on.requests)  # one Stripe read per event, none for duplicates


def check_mirrors(owner, sub):
    account = BillingAccount.objects.get(user=owner)
    if account.synced_at is None:
        return
    lookup_key = sub["items"]["data"][0]["price"]["lookup_key"]
    code = next(p for p in (TEACHER, PRO, "business") if get_plan(p).lookup_key == lookup_key)
    assert (account.subscription_status, account.subscribed_plan, account.cancel_at_period_end) == (
        sub["status"],
        code,
        sub["cancel_at_period_end"],
    )
    expected = code if EXPECTED_PLAN[sub["status"]] else FREE
    assert plan_for(owner).code == expected
    assert quota.usage_summary(owner)["allowance_seconds"] == get_plan(expected).monthly_render_seconds
    assert storage_quota_bytes(owner) == get_plan(expected).storage_bytes
    assert (account.past_due_since is not None) == (sub["status"] == "past_due")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_are_processed_once_and_converge(billing_on):
    import threading

    from django.db import connection
    from django.test import Client

    from portal.accounts.models import User

    owner = User.objects.create_user(email="racer@example.com")
    BillingAccount.objects.create(user=owner, stripe_customer_id="cus_1")
    sub = billing_on.put_subscription(subscription(plan=PRO, status="past_due"))
    same = event("invoice.payment_failed", {"id": "in_1", "customer": "cus_1", "subscription": "sub_1"})
    others = [event(t, dict(sub)) for t in ("customer.subscription.created", "customer.subscription.updated")]
    deliveries = [same] * 8 + others * 4
    start, answers = threading.Barrier(len(deliveries)), []

    def deliver_one(evt):
        try:
            start.wait()
            answers.append(post_event(Client(), evt).json()["outcome"])
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_one, args=(evt,)) for evt in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == sorted(["processed"] * 3 + ["duplicate"] * (len(deliveries) - 3))
    assert StripeEvent.objects.count() == 3 and len(billing_on.requests) == 3
    assert state(owner) == (PRO, "past_due", PRO)
    assert BillingEvent.objects.filter(account__user=owner).count() == 1


def test_a_subscription_made_in_the_dashboard_finds_its_user_by_metadata(client, owner, outsider, billing_on):
    sub = billing_on.put_subscription(
        subscription("sub_d", customer="cus_d", plan=TEACHER, metadata={"user_id": str(owner.pk)})
    )
    deliver(client, event("customer.subscription.created", sub))  # owner had no billing account yet
    assert state(owner) == (TEACHER, "active", TEACHER)
    assert BillingAccount.objects.get(user=owner).stripe_customer_id == "cus_d"

    # metadata naming someone whose account already has another customer is not enough to take it over
    BillingAccount.objects.create(user=outsider, stripe_customer_id="cus_outsider")
    other = billing_on.put_subscription(
        subscription("sub_x", customer="cus_x", plan=PRO, metadata={"user_id": str(outsider.pk)})
    )
    deliver(client, event("customer.subscription.created", other), expect="no_account")
    assert plan_for(outsider).code == FREE
