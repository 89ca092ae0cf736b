"""The usage page, upgrade through Checkout and manage through the Customer Portal; Stripe is the recording fake."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import BillingAccount, BillingEvent, StripePrice
from billing.plans import PRO, TEACHER
from billing.quota import reserve_seconds

USAGE = "/billing/"


@pytest.fixture
def on_sale(db):
    for code in ("teacher", "pro", "business"):
        StripePrice.objects.create(
            plan_code=code,
            lookup_key=f"sonic_{code}_monthly",
            product_id=f"sonic_{code}",
            price_id=f"price_{code}_1",
            unit_amount=100,
        )


def error_code(response):
    """The code of the message the refusal added (earlier, unread messages may still be queued)."""
    return list(response.wsgi_request._messages)[-1].extra_tags


def test_the_usage_page_shows_plan_seconds_storage_and_renewal(owner_client, owner):
    reserve_seconds(owner, 45, "job-1")
    owner.storage_used_bytes = 3 * 1024 * 1024
    owner.save()
    page = owner_client.get(USAGE).content.decode()
    assert 'data-plan="free"' in page
    assert 'class="used-seconds" data-seconds="0"' in page
    assert 'class="remaining-seconds" data-seconds="255"' in page and "45 s held for running jobs" in page
    assert "3.0\xa0MB of 2.0\xa0GB" in page
    assert "Resets" in page
    assert 'href="/billing/"' in page  # the nav link


def test_with_billing_off_upgrades_explain_why_not(owner_client):
    page = owner_client.get(USAGE).content.decode()
    assert 'data-code="billing_not_configured"' in page and "Online payment is not set up" in page
    assert "disabled" in page and "Manage billing" not in page
    response = owner_client.post("/billing/checkout/pro/")
    assert response.status_code == 302 and error_code(response) == "billing_not_configured"
    response = owner_client.post("/billing/checkout/pro/", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_not_configured"
    assert owner_client.post("/billing/manage/", headers={"Accept": "application/json"}).status_code == 503


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    for method, url in [("get", USAGE), ("post", "/billing/checkout/pro/"), ("post", "/billing/manage/")]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_upgrade_goes_to_stripe_checkout_for_the_plans_price(owner_client, owner, billing_on, on_sale):
    page = owner_client.get(USAGE).content.decode()
    for code in ("teacher", "pro", "business"):
        assert f'action="/billing/checkout/{code}/"' in page
    assert "disabled" not in page and "Manage billing" not in page  # nothing to manage before a first checkout
    response = owner_client.post("/billing/checkout/pro/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.test/cs_test")
    (customer,) = billing_on.made("POST", "/v1/customers")
    assert customer.params == {"email": "owner@example.com", "metadata[user_id]": str(owner.pk)}
    assert customer.headers["Idempotency-Key"] == f"sonic-customer-{owner.pk}"
    (session,) = billing_on.made("POST", "/v1/checkout/sessions")
    assert session.params == {
        "mode": "subscription",
        "customer": "cus_test1",
        "client_reference_id": str(owner.pk),
        "line_items[0][price]": "price_pro_1",
        "line_items[0][quantity]": "1",
        "success_url": "http://127.0.0.1:8000/billing/?checkout=success",
        "cancel_url": "http://127.0.0.1:8000/billing/?checkout=cancel",
        "metadata[user_id]": str(owner.pk),
        "metadata[plan]": "pro",
        "subscription_data[metadata][user_id]": str(owner.pk),
        "subscription_data[metadata][plan]": "pro",
    }
    account = BillingAccount.objects.get(user=owner)
    assert account.stripe_customer_id == "cus_test1"
    assert BillingEvent.objects.get(account=account).kind == "customer_created"

    # a second attempt (the first checkout was abandoned) reuses the customer
    response = owner_client.post("/billing/checkout/teacher/", headers={"Accept": "application/json"})
    assert response.json()["url"].startswith("https://checkout.test/")
    assert len(billing_on.made("POST", "/v1/customers")) == 1
    assert billing_on.made("POST", "/v1/checkout/sessions")[1].params["line_items[0][price]"] == "price_teacher_1"
    assert "Thank you" in owner_client.get(USAGE + "?checkout=success").content.decode()


@pytest.mark.parametrize(
    ("plan", "code", "status"),
    [("free", "unknown_plan", 404), ("platinum", "unknown_plan", 404), ("pro", "plan_not_on_sale", 503)],
)
def test_bad_upgrades_are_refused_with_a_code(owner_client, billing_on, plan, code, status):
    response = owner_client.post(f"/billing/checkout/{plan}/")
    assert error_code(response) == code
    response = owner_client.post(f"/billing/checkout/{plan}/", headers={"Accept": "application/json"})
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert billing_on.requests == []


def test_a_subscriber_is_sent_to_manage_billing_instead_of_a_second_checkout(owner_client, owner, billing_on, on_sale):
    now = timezone.now()
    BillingAccount.objects.create(
        user=owner,
        stripe_customer_id="cus_1",
        stripe_subscription_id="sub_1",
        subscription_status="active",
        subscribed_plan=TEACHER,
        current_period_start=now - timedelta(days=2),
        current_period_end=now + timedelta(days=28),
    )
    response = owner_client.post("/billing/checkout/pro/")
    assert error_code(response) == "already_subscribed"
    page = owner_client.get(USAGE).content.decode()
    assert 'data-plan="teacher"' in page and "Manage billing" in page and "Renews" in page

    response = owner_client.post("/billing/manage/")
    assert response.status_code == 302 and response["Location"].startswith("https://portal.test/bps_test")
    (portal,) = billing_on.made("POST", "/v1/billing_portal/sessions")
    assert portal.params == {"customer": "cus_1", "return_url": "http://127.0.0.1:8000/billing/"}
    assert [r.path for r in billing_on.requests] == ["/v1/billing_portal/sessions"]


@pytest.mark.slow
def test_manage_without_a_customer_and_stripe_outages_are_explained(owner_client, owner, billing_on, on_sale):
    assert error_code(owner_client.post("/billing/manage/")) == "no_subscription"
    billing_on.fail_with = 500
    response = owner_client.post("/billing/checkout/pro/", headers={"Accept": "application/json"})
    assert response.status_code == 502 and response.json()["error"]["code"] == "stripe_unavailable"
    BillingAccount.objects.filter(user=owner).update(stripe_customer_id="cus_1")
    assert error_code(owner_client.post("/billing/manage/")) == "stripe_unavailable"


def test_pages_only_take_their_methods(owner_client, billing_on):
    assert owner_client.get("/billing/checkout/pro/").status_code == 405
    assert owner_client.get("/billing/manage/").status_code == 405
    assert owner_client.post(USAGE).status_code == 405


def test_each_person_sees_only_their_own_plan_and_usage(owner, outsider_client, owner_client, billing_on):
    BillingAccount.objects.create(user=owner, plan_override=PRO, stripe_customer_id="cus_owner")
    reserve_seconds(owner, 600, "owner-job")
    assert 'data-plan="pro"' in owner_client.get(USAGE).content.decode()
    page = outsider_client.get(USAGE).content.decode()
    assert 'data-plan="free"' in page and 'data-seconds="0"' in page and "600" not in page
    # the outsider has no customer: managing billing never reaches the owner's
    assert error_code(outsider_client.post("/billing/manage/")) == "no_subscription"
    assert billing_on.requests == []


def test_two_tabs_can_never_pay_for_two_subscriptions(owner_client, owner, billing_on, on_sale):
    first = owner_client.post("/billing/checkout/pro/", headers={"Accept": "application/json"}).json()["url"]
    second = owner_client.post("/billing/checkout/pro/", headers={"Accept": "application/json"}).json()["url"]
    first_id, second_id = first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]
    assert first_id != second_id
    with pytest.raises(ValueError, match="expired"):
        billing_on.pay(first_id)  # the first tab's page can no longer take the money
    billing_on.pay(second_id)

    # A third tab while Stripe is still creating the subscription is told to wait, not sent to pay again.
    response = owner_client.post("/billing/checkout/pro/", headers={"Accept": "application/json"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "subscription_pending"
    assert len(billing_on.made("POST", "/v1/checkout/sessions")) == 2


def test_the_plans_table_says_which_renderers_each_plan_includes_where_several_are_offered(owner_client, settings):
    assert "<th>Renderer</th>" not in owner_client.get(USAGE).content.decode()
    settings.RENDER_BACKENDS = ["builtin", "sonic"]
    page = owner_client.get(USAGE).content.decode()
    row = page[page.index("<th>Renderer</th>") :].split("</tr>")[0]
    assert row.count("<td>builtin</td>") == 2 and row.count("<td>builtin, sonic</td>") == 2
