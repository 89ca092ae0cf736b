from django import template
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import BillingAccount

register = template.Library()


@register.inclusion_tag("billing/past_due_banner.html")
def past_due_banner(user):
    """A banner on every page while a failed payment keeps the paid plan only for the grace period."""
    account = BillingAccount.objects.filter(user_id=user.pk).first() if user.is_authenticated else None
    if account is None or not account.in_grace():
        return {"show": False}
    return {"show": True, "grace_ends_at": account.grace_ends_at(), "plan_name": account.get_subscribed_plan_display()}


@register.filter
def minutes(seconds) -> str:
    """300 -> "5 min"; 90 -> "1 min 30 s"; 72000 -> "20 h" (units in the user's language)."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    parts = [
        _("%(hours)d h") % {"hours": hours} if hours else "",
        _("%(minutes)d min") % {"minutes": mins} if mins else "",
        _("%(seconds)d s") % {"seconds": secs} if secs else "",
    ]
    return " ".join(part for part in parts if part) or _("%(seconds)d s") % {"seconds": 0}


# Stripe's subscription statuses, as the billing page words them.
SUBSCRIPTION_STATUS_LABELS = {
    "active": gettext_lazy("active"),
    "trialing": gettext_lazy("trialing"),
    "past_due": gettext_lazy("past due"),
    "unpaid": gettext_lazy("unpaid"),
    "canceled": gettext_lazy("canceled"),
    "incomplete": gettext_lazy("incomplete"),
    "incomplete_expired": gettext_lazy("incomplete expired"),
    "paused": gettext_lazy("paused"),
}


@register.filter
def status_label(status: str) -> str:
    """Stripe's "past_due" -> "past due"; a status Stripe adds later is shown as Stripe names it."""
    return str(SUBSCRIPTION_STATUS_LABELS.get(status or "", (status or "").replace("_", " ")))


@register.filter
def offered(backends) -> str:
    """A plan's render backends that this portal offers ("builtin, sonic")."""
    return ", ".join(backend for backend in backends if backend in settings.RENDER_BACKENDS)
