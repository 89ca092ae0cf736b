import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing import stripe_api, webhooks
from billing.models import ENDED_STATUSES, BillingAccount, StripePrice
from billing.plans import PLANS, all_plans, billing_enabled, get_plan
from billing.quota import usage_summary
from billing.sync import LIVE_STATUSES, account_for, record
from portal.errors import error_response
from portal.http import wants_json
from portal.library.usage import storage_quota_bytes

log = logging.getLogger(__name__)

NOT_CONFIGURED = gettext_lazy("Online payment is not set up on this portal. Ask support to change your plan.")


def _refuse(request, code: str, message: str, status: int = 400):
    if wants_json(request):
        return error_response(request, code, message, status)
    messages.error(request, str(message), extra_tags=code)
    return redirect("billing:usage")


def _go(request, url: str):
    if wants_json(request):
        return JsonResponse({"url": url})
    return redirect(url)


def _absolute(name: str, query: str = "") -> str:
    return f"{settings.SITE_URL}{reverse(name)}{query}"


@login_required
@require_GET
def usage(request):
    account = BillingAccount.objects.filter(user=request.user).first()
    summary = usage_summary(request.user)
    subscribed = bool(
        account
        and account.stripe_subscription_id
        and account.subscription_status in LIVE_STATUSES
        and not account.plan_override
    )
    ending = bool(
        account
        and not account.plan_override
        and account.subscription_grants_plan()
        and (account.cancel_at_period_end or account.subscription_status in ENDED_STATUSES)
    )
    checkout = request.GET.get("checkout")
    if checkout == "success":
        messages.success(request, _("Thank you! Your plan changes as soon as Stripe confirms the payment."))
    elif checkout == "cancel":
        messages.info(request, _("Checkout cancelled; your plan has not changed."))
    context = {
        **summary,
        "account": account,
        "plans": all_plans(),
        "billing_enabled": billing_enabled(),
        "subscribed": subscribed,
        "ending": ending,
        "can_manage": bool(billing_enabled() and account and account.stripe_customer_id),
        "in_grace": bool(account and account.in_grace()),
        "grace_ends_at": account.grace_ends_at() if account else None,
        "storage_used": request.user.storage_used_bytes,
        "storage_quota": storage_quota_bytes(request.user),
        "not_configured": NOT_CONFIGURED,
        "several_backends": len(settings.RENDER_BACKENDS) > 1,
    }
    return render(request, "billing/usage.html", context)


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


@login_required
@require_POST
def checkout(request, plan_code):
    if not billing_enabled():
        return _refuse(request, "billing_not_configured", NOT_CONFIGURED, status=503)
    if plan_code not in PLANS or not PLANS[plan_code].is_paid:
        return _refuse(
            request, "unknown_plan", _("There is no paid plan called '%(plan)s'.") % {"plan": plan_code}, status=404
        )
    account = account_for(request.user)
    if account.stripe_subscription_id and account.subscription_status in LIVE_STATUSES:
        return _refuse(
            request,
            "already_subscribed",
            _("You already have a subscription: change or cancel it with Manage billing."),
            status=409,
        )
    price = StripePrice.objects.filter(plan_code=plan_code).first()
    if price is None:
        return _refuse(
            request,
            "plan_not_on_sale",
            _("The %(plan)s plan is not on sale yet. Please try again later.")
            % {"plan": get_plan(plan_code).display_name},
            status=503,
        )
    try:
        customer_id = _ensure_customer(request.user)
        with transaction.atomic():
            # One open Checkout per customer: the row lock makes two tabs take turns, and the earlier session is
            # expired before a new one is made, so only one of them can ever be paid. A paid one whose
            # subscription has not reached us yet means: wait, not pay again.
            account = BillingAccount.objects.select_for_update(no_key=True).get(pk=account.pk)
            if account.checkout_session_id:
                earlier = stripe_api.retrieve_checkout_session(account.checkout_session_id)
                paid_but_unknown = earlier.get("subscription") != account.stripe_subscription_id
                if earlier.get("status") == "complete" and paid_but_unknown:
                    return _refuse(
                        request,
                        "subscription_pending",
                        _(
                            "Your payment went through: your plan "
                            "changes as soon as Stripe confirms it, in a "
                            "minute or so."
                        ),
                        status=409,
                    )
                if earlier.get("status") == "open":
                    stripe_api.expire_checkout_session(account.checkout_session_id)
            session = stripe_api.create_checkout_session(
                customer_id=customer_id,
                price_id=price.price_id,
                user_id=request.user.pk,
                plan_code=plan_code,
                success_url=_absolute("billing:usage", "?checkout=success"),
                cancel_url=_absolute("billing:usage", "?checkout=cancel"),
            )
            account.checkout_session_id = session["id"]
            account.save(update_fields=["checkout_session_id", "updated_at"])
    except stripe_api.StripeUnavailable:
        return _refuse(
            request, "stripe_unavailable", _("Payment is unavailable right now. Please try again shortly."), status=502
        )
    return _go(request, session["url"])


@login_required
@require_POST
def manage(request):
    if not billing_enabled():
        return _refuse(request, "billing_not_configured", NOT_CONFIGURED, status=503)
    account = BillingAccount.objects.filter(user=request.user).first()
    if account is None or not account.stripe_customer_id:
        return _refuse(request, "no_subscription", _("You have no subscription to manage yet."), status=409)
    try:
        session = stripe_api.create_portal_session(
            customer_id=account.stripe_customer_id, return_url=_absolute("billing:usage")
        )
    except stripe_api.StripeUnavailable:
        return _refuse(
            request,
            "stripe_unavailable",
            _("Billing management is unavailable right now. Please try again shortly."),
            status=502,
        )
    return _go(request, session["url"])


def _webhook_error(request, code: str, message: str, status: int = 400):
    return error_response(request, code, message, status)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    if not settings.STRIPE_WEBHOOK_SECRET or not billing_enabled():
        return _webhook_error(request, "billing_not_configured", "Stripe billing is not configured here.", status=503)
    try:
        event = stripe_api.verify_event(request.body, request.headers.get("Stripe-Signature"))
    except stripe_api.BadSignature as bad:
        log.warning("stripe webhook refused: %s", bad.code)
        return _webhook_error(request, bad.code, bad.message)
    try:
        outcome, stored = webhooks.handle(event)
    except stripe_api.StripeUnavailable:
        # Nothing was stored: Stripe retries the delivery later.
        return _webhook_error(request, "stripe_unavailable", "Could not read the subscription from Stripe.", status=502)
    return JsonResponse({"received": event["id"], "outcome": outcome})
