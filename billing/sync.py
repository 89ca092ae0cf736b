"""Upserting an account's billing state from a Stripe subscription, and the audit trail of every change."""

import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from billing import stripe_api
from billing.models import ACTIVE_STATUSES, BillingAccount, BillingEvent
from billing.plans import FREE, PLANS, plan_for_lookup_key
from portal.support import audit
from portal.support.models import AuditEvent

log = logging.getLogger(__name__)

# A subscription in one of these is the one the account follows, even when another one was known before.
LIVE_STATUSES = ACTIVE_STATUSES | {"past_due"}


def account_for(user) -> BillingAccount:
    account, _ = BillingAccount.objects.get_or_create(user_id=user.pk)
    return account


def record(
    account: BillingAccount,
    *,
    source: str,
    kind: str,
    before: dict | None = None,
    message: str = "",
    stripe_event_id: str = "",
    actor=None,
) -> BillingEvent:
    """The billing trail; a change of the plan in effect also goes to the support audit log (old → new)."""
    after = account.snapshot()
    actor = actor if actor is not None and actor.pk else None
    old_plan, new_plan = (before or {}).get("effective_plan") or FREE, after["effective_plan"]
    if old_plan != new_plan:
        audit.record(
            AuditEvent.Action.PLAN_CHANGED, actor=actor, user=account.user, source=source, plan=[old_plan, new_plan]
        )
    return BillingEvent.objects.create(
        account=account,
        source=source,
        kind=kind,
        message=message,
        stripe_event_id=stripe_event_id,
        actor=actor,
        before=before or {},
        after=after,
    )


def _timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def plan_code_of(subscription: dict) -> str:
    """Which of our plans a Stripe subscription is for: the price's lookup key, else a price/plan id equal to a lookup
    key (legacy Plans, localstripe), else the plan named in the price's or subscription's metadata; "" if none."""
    items = ((subscription.get("items") or {}).get("data")) or []
    for item in items:
        for price in (item.get("price"), item.get("plan")):
            if not isinstance(price, dict):
                continue
            for key in (price.get("lookup_key"), price.get("id")):
                plan = plan_for_lookup_key(key)
                if plan:
                    return plan.code
            code = (price.get("metadata") or {}).get("plan")
            if code in PLANS and PLANS[code].is_paid:
                return code
    code = (subscription.get("metadata") or {}).get("plan")
    return code if code in PLANS and PLANS[code].is_paid else ""


def subscription_fields(subscription: dict) -> dict:
    """The account fields a Stripe subscription sets (period dates on the item in new API versions, on the
    subscription in old ones)."""
    items = ((subscription.get("items") or {}).get("data")) or [{}]
    start = items[0].get("current_period_start") or subscription.get("current_period_start")
    end = items[0].get("current_period_end") or subscription.get("current_period_end")
    return {
        "stripe_subscription_id": subscription["id"],
        "subscribed_plan": plan_code_of(subscription),
        "subscription_status": subscription.get("status") or "",
        "cancel_at_period_end": bool(subscription.get("cancel_at_period_end")),
        "current_period_start": _timestamp(start),
        "current_period_end": _timestamp(end),
    }


def sync_subscription(
    account_id: int, subscription_id: str, *, source: str, stripe_event_id: str = "", actor=None
) -> BillingAccount:
    """Re-fetch the subscription from Stripe and upsert the account from it.

    The account row is locked while Stripe is read, so of two deliveries racing, the later write holds the later
    read: whatever order events arrive in, the account ends at Stripe's current state."""
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update(no_key=True).get(pk=account_id)
        subscription = stripe_api.retrieve_subscription(subscription_id)
        if subscription.get("customer") and account.stripe_customer_id not in (None, subscription["customer"]):
            log.warning(
                "subscription %s belongs to customer %s, not %s",
                subscription_id,
                subscription["customer"],
                account.stripe_customer_id,
            )
            return account
        fields = subscription_fields(subscription)
        other_is_current = (
            account.stripe_subscription_id
            and account.stripe_subscription_id != subscription_id
            and account.subscription_status in LIVE_STATUSES
        )
        if other_is_current and fields["subscription_status"] not in LIVE_STATUSES:
            # An old subscription ending must not take the plan of the one that replaced it.
            return account
        before = account.snapshot()
        for name, value in fields.items():
            setattr(account, name, value)
        if account.stripe_customer_id is None and subscription.get("customer"):
            account.stripe_customer_id = subscription["customer"]
        if account.subscription_status == "past_due":
            account.past_due_since = account.past_due_since or timezone.now()
        else:
            account.past_due_since = None
        account.synced_at = timezone.now()
        account.save()
        after = account.snapshot()
        if after != before:
            changed = ", ".join(f"{key}: {before[key]} → {after[key]}" for key in after if before[key] != after[key])
            record(
                account,
                source=source,
                kind="subscription_synced",
                before=before,
                message=changed,
                stripe_event_id=stripe_event_id,
                actor=actor,
            )
    return account
