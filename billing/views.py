import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing import stripe_api, webhooks
from billing.checkout import NOT_CONFIGURED, BillingRefusal, open_billing_portal, start_checkout
from billing.models import ENDED_STATUSES, BillingAccount
from billing.plans import all_plans, billing_enabled
from billing.quota import usage_summary
from billing.sync import LIVE_STATUSES
from portal.errors import error_response, refusal_response
from portal.http import wants_json
from portal.library.usage import storage_quota_bytes

log = logging.getLogger(__name__)


def _refuse(request, refusal: BillingRefusal):
    if wants_json(request):
        return refusal_response(request, refusal)
    messages.error(request, refusal.message, extra_tags=refusal.code)
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


@login_required
@require_POST
def checkout(request, plan_code):
    try:
        url = start_checkout(
            request.user,
            plan_code,
            success_url=_absolute("billing:usage", "?checkout=success"),
            cancel_url=_absolute("billing:usage", "?checkout=cancel"),
        )
    except BillingRefusal as refusal:
        return _refuse(request, refusal)
    return _go(request, url)


@login_required
@require_POST
def manage(request):
    try:
        url = open_billing_portal(request.user, return_url=_absolute("billing:usage"))
    except BillingRefusal as refusal:
        return _refuse(request, refusal)
    return _go(request, url)


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
