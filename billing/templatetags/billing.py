from django import template
from django.conf import settings

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
    """300 -> "5 min"; 90 -> "1 min 30 s"; 72000 -> "20 h"."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    mins, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{mins} min" if mins else "", f"{secs} s" if secs else ""]
    return " ".join(part for part in parts if part) or "0 s"


@register.filter
def status_label(status: str) -> str:
    """Stripe's "past_due" -> "past due"."""
    return (status or "").replace("_", " ")


@register.filter
def offered(backends) -> str:
    """A plan's render backends that this portal offers ("builtin, sonic")."""
    return ", ".join(backend for backend in backends if backend in settings.RENDER_BACKENDS)
