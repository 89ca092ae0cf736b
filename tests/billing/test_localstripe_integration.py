"""End to end against localstripe: a subscription made through billing/stripe_api.py changes the user's plan only
through localstripe's signed webhooks to our real endpoint on a live server."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from billing import stripe_api
from billing.models import BillingAccount, BillingEvent, StripeEvent, plan_for
from billing.plans import FREE, PRO, get_plan
from billing.quota import usage_summary
from portal.accounts.models import User

SECRET_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe"
LAUNCHER = Path(__file__).with_name("localstripe_server.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base: str, path: str, data: dict | None = None) -> dict:
    """Test-side setup of localstripe (a plan, a card), as the Stripe dashboard and Checkout would do."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(base + path, data=body, headers={"Authorization": f"Bearer {SECRET_KEY}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text else {}


@pytest.fixture
def localstripe(tmp_path):
    port = _free_port()
    log = (tmp_path / "localstripe.log").open("w")
    process = subprocess.Popen([sys.executable, str(LAUNCHER), str(port)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            _call(base, "/v1/customers")
            break
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                pytest.skip(f"localstripe did not start: {(tmp_path / 'localstripe.log').read_text()[-500:]}")
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)
    log.close()


def _wait_for(condition, what: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}; stripe events: "
        f"{list(StripeEvent.objects.values_list('type', 'outcome', 'detail'))}"
    )


def _processed(event_type: str):
    return lambda: StripeEvent.objects.filter(type=event_type, outcome="processed").exists()


@pytest.mark.slow
def test_a_localstripe_subscription_reaches_the_plan_through_signed_webhooks(localstripe, live_server, settings):
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = localstripe
    hook = {"url": f"{live_server.url}/billing/stripe/webhook/", "secret": WEBHOOK_SECRET}
    _call(localstripe, "/_config/webhooks/sonic", hook)
    pro = get_plan(PRO)
    # localstripe has no Prices: a legacy Plan whose id is the lookup key stands in for the price.
    _call(
        localstripe,
        "/v1/plans",
        {
            "id": pro.lookup_key,
            "amount": pro.monthly_price_cents,
            "currency": "usd",
            "interval": "month",
            "product[name]": "Sonic Portal Pro",
        },
    )

    user = User.objects.create_user(email="teacher@example.com")
    customer = stripe_api.create_customer(email=user.email, user_id=user.pk)
    account = BillingAccount.objects.create(user=user, stripe_customer_id=customer["id"])
    token = _call(
        localstripe,
        "/v1/tokens",
        {"card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2035", "card[cvc]": "123"},
    )
    _call(localstripe, f"/v1/customers/{customer['id']}/sources", {"source": token["id"]})

    subscription = stripe_api.create_subscription(customer_id=customer["id"], price_id=pro.lookup_key, user_id=user.pk)
    assert subscription["status"] == "active"
    assert plan_for(user).code == FREE  # nothing changes until the webhook arrives

    # Other events (invoice.paid) may bring the account up to date first; the one asserted is the one waited for.
    _wait_for(_processed("customer.subscription.created"), "the subscription webhook")
    account.refresh_from_db()
    assert account.subscription_status == "active"
    assert plan_for(user).code == PRO
    assert account.stripe_subscription_id == subscription["id"]
    assert account.current_period_start.timestamp() == subscription["current_period_start"]
    assert usage_summary(user)["allowance_seconds"] == pro.monthly_render_seconds

    stripe_api.cancel_subscription(subscription["id"])

    _wait_for(_processed("customer.subscription.deleted"), "the cancellation webhook")
    account.refresh_from_db()
    assert account.subscription_status == "canceled"
    assert plan_for(user).code == PRO  # paid until the period ends
    assert account.effective_plan_code(account.current_period_end) == FREE
    kinds = set(BillingEvent.objects.filter(account=account).values_list("source", "kind"))
    assert kinds == {("webhook", "subscription_synced")}
