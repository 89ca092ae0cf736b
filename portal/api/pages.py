"""The account page where users make and revoke their API keys."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.models import plan_for
from portal.api import keys
from portal.api.models import ApiKey
from portal.ownership import get_owned

EXPIRY_CHOICES = [
    ("", gettext_lazy("Never")),
    ("30", gettext_lazy("In 30 days")),
    ("90", gettext_lazy("In 90 days")),
    ("365", gettext_lazy("In a year")),
]


class NewKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label=gettext_lazy("Name"),
        help_text=gettext_lazy("What it is for, e.g. “CRM export” or “staging”."),
    )
    expires_in_days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, label=gettext_lazy("Expires")
    )


def _get_key_for_user(request, key_id) -> ApiKey:
    return get_owned(ApiKey, request.user, key_id)


@login_required
def api_keys(request):
    plan = plan_for(request.user)
    form = NewKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and plan.api_access and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        _, new_key = keys.create(request.user, form.cleaned_data["name"], expires_at=expires_at)
        form = NewKeyForm()
    context = {"plan": plan, "form": form, "new_key": new_key, "api_keys": ApiKey.objects.filter(owner=request.user)}
    return render(request, "api/keys.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def revoke_api_key(request, key_id):
    api_key = _get_key_for_user(request, key_id)
    keys.revoke(api_key)
    messages.success(
        request,
        _("Revoked %(name)s (%(prefix)s…): requests with it now get 401.")
        % {"name": api_key.name, "prefix": api_key.prefix},
    )
    return redirect("api_keys")
