"""What a user does to pay: start a Stripe Checkout for a plan, or open Stripe's billing portal.

Each returns the Stripe page to send the user to, or raises BillingRefusal with a stable code; the views only turn
that into a redirect, a message or JSON."""

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import stripe_api
from billing.models import BillingAccount, StripePrice
from billing.plans import PLANS, billing_enabled, get_plan
from billing.sync import LIVE_STATUSES, account_for, record
from portal.errors import Refusal

NOT_CONFIGURED = gettext_lazy("Online payment is not set up on this portal. Ask support to change your plan.")

PAYMENT_PENDING = gettext_lazy(
    "Your payment went through: your plan changes as soon as Stripe confirms it, in a minute or so."
)


class BillingRefusal(Refusal):
    """A payment step we refuse; nothing was charged or changed."""


def _check_enabled() -> None:
    if not billing_enabled():
        raise BillingRefusal("billing_not_configured", NOT_CONFIGURED, 503)


def _ensure_customer(user) -> str:
    """The user's Stripe customer id, made once (the account row is locked, and Stripe gets an idempotency key)."""
    account = account_for(user)
    if account.stripe_customer_id:
        return account.stripe_customer_id
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
        if not account.stripe_customer_id:
            before = account.snapshot()
            customer = stripe_api.create_customer(email=user.email, user_id=user.pk)
            account.stripe_customer_id = customer["id"]
            account.save(update_fields=["stripe_customer_id", "updated_at"])
            record(
                account,
                source="checkout",
                kind="customer_created",
                before=before,
                actor=user,
                message=f"Stripe customer {customer['id']}",
            )
    return account.stripe_customer_id


def start_checkout(user, plan_code: str, *, success_url: str, cancel_url: str) -> str:
    """The URL of a Stripe Checkout for `plan_code`; at most one open Checkout per customer."""
    _check_enabled()
    if plan_code not in PLANS or not PLANS[plan_code].is_paid:
        raise BillingRefusal("unknown_plan", _("There is no paid plan called '%(plan)s'.") % {"plan": plan_code}, 404)
    account = account_for(user)
    if account.stripe_subscription_id and account.subscription_status in LIVE_STATUSES:
        raise BillingRefusal(
            "already_subscribed", _("You already have a subscription: change or cancel it with Manage billing."), 409
        )
    price = StripePrice.objects.filter(plan_code=plan_code).first()
    if price is None:
        raise BillingRefusal(
            "plan_not_on_sale",
            _("The %(plan)s plan is not on sale yet. Please try again later.")
            % {"plan": get_plan(plan_code).display_name},
            503,
        )
    try:
        customer_id = _ensure_customer(user)
        with transaction.atomic():
            # One open Checkout per customer: the row lock makes two tabs take turns, and the earlier session is
            # expired before a new one is made, so only one of them can ever be paid. A paid one whose
            # subscription has not reached us yet means: wait, not pay again.
            account = BillingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
            if account.checkout_session_id:
                earlier = stripe_api.retrieve_checkout_session(account.checkout_session_id)
                paid_but_unknown = earlier.get("subscription") != account.stripe_subscription_id
                if earlier.get("status") == "complete" and paid_but_unknown:
                    raise BillingRefusal("subscription_pending", PAYMENT_PENDING, 409)
                if earlier.get("status") == "open":
                    stripe_api.expire_checkout_session(account.checkout_session_id)
            session = stripe_api.create_checkout_session(
                customer_id=customer_id,
                price_id=price.price_id,
                user_id=user.pk,
                plan_code=plan_code,
                success_url=success_url,
                cancel_url=cancel_url,
            )
            account.checkout_session_id = session["id"]
            account.save(update_fields=["checkout_session_id", "updated_at"])
    except stripe_api.StripeUnavailable:
        raise BillingRefusal(
            "stripe_unavailable", _("Payment is unavailable right now. Please try again shortly."), 502
        ) from None
    return session["url"]


def open_billing_portal(user, *, return_url: str) -> str:
    """The URL of Stripe's billing portal, where a subscriber changes, pays or cancels."""
    _check_enabled()
    account = BillingAccount.objects.filter(user=user).first()
    if account is None or not account.stripe_customer_id:
        raise BillingRefusal("no_subscription", _("You have no subscription to manage yet."), 409)
    try:
        session = stripe_api.create_portal_session(customer_id=account.stripe_customer_id, return_url=return_url)
    except stripe_api.StripeUnavailable:
        raise BillingRefusal(
            "stripe_unavailable", _("Billing management is unavailable right now. Please try again shortly."), 502
        ) from None
    return session["url"]
