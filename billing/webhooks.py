"""Stripe webhook events: stored once each, and the subscription-related ones re-sync the account from Stripe."""

import logging
from datetime import UTC, datetime

from django.db import transaction

from billing.models import BillingAccount, StripeEvent
from billing.sync import account_for, sync_subscription
from portal.accounts.models import User

log = logging.getLogger(__name__)

# Events that say a subscription may have changed. The event body is never trusted for state: the subscription is
# re-read from Stripe, so a late or repeated event cannot undo a newer one. (localstripe sends
# invoice.payment_succeeded where Stripe also sends invoice.paid.)
SYNC_EVENT_TYPES = {
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
}


def _subscription_id(event: dict) -> str | None:
    obj = event.get("data", {}).get("object") or {}
    if event["type"].startswith("customer.subscription."):
        return obj.get("id")
    sub = obj.get("subscription")
    if sub is None:  # invoices in API versions from 2025-03 carry it under parent
        sub = ((obj.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    if isinstance(sub, dict):
        sub = sub.get("id")
    return sub or None


def _find_account(event: dict) -> BillingAccount | None:
    obj = event.get("data", {}).get("object") or {}
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    if customer:
        account = BillingAccount.objects.filter(stripe_customer_id=customer).first()
        if account:
            return account
    # Made by our Checkout session: client_reference_id and metadata carry the user id.
    user_id = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("user_id")
    if user_id and str(user_id).isdigit():
        user = User.objects.filter(pk=int(user_id)).first()
        if user is not None:
            account = account_for(user)
            if account.stripe_customer_id in (None, customer) or not customer:
                return account
    return None


def handle(event: dict) -> tuple[str, StripeEvent]:
    """Process a verified event once. Returns (outcome, stored event); outcome "duplicate" for a repeat.

    The event row and the state change commit together: if Stripe cannot be read, nothing is stored, the view
    answers 5xx and Stripe delivers the event again later."""
    created = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    with transaction.atomic():
        stored, is_new = StripeEvent.objects.get_or_create(
            event_id=event["id"],
            defaults={"type": event["type"], "created": created, "outcome": "received", "payload": event},
        )
        if not is_new:
            return "duplicate", stored
        if event["type"] not in SYNC_EVENT_TYPES:
            stored.outcome, stored.detail = "ignored", "event type not used"
        else:
            subscription_id = _subscription_id(event)
            account = _find_account(event)
            if account is None:
                stored.outcome, stored.detail = "no_account", "no account has this customer"
            elif not subscription_id:
                stored.outcome, stored.detail, stored.account = "ignored", "no subscription in the event", account
            else:
                account = sync_subscription(account.pk, subscription_id, source="webhook", stripe_event_id=event["id"])
                stored.outcome, stored.account = "processed", account
                stored.detail = f"subscription {subscription_id}: {account.subscription_status or '-'}"
        stored.save(update_fields=["outcome", "detail", "account"])
    return stored.outcome, stored
