"""Staff who can refund render time (and superusers) use a second factor before any admin page: they set up TOTP
(allauth's MFA) if they have none, and they must have entered a code in this session."""

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

PERMISSION = "jobs.refund_job"


def needs_second_factor(user) -> bool:
    return user.is_authenticated and user.is_staff and user.is_active and user.has_perm(PERMISSION)


def used_second_factor(request) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def require_second_factor(get_response):
    """Send refund-capable staff on /admin/ to set up or enter their second factor first."""
    admin_prefix = reverse("admin:index")

    def middleware(request):
        if request.path.startswith(admin_prefix) and needs_second_factor(request.user):
            back = urlencode({"next": request.get_full_path()})
            if not is_mfa_enabled(request.user, [Authenticator.Type.TOTP]):
                messages.warning(request, "Support staff who can refund must use an authenticator app: set it up, "
                                 "then go back to the support console.")
                return redirect(f"{reverse('mfa_activate_totp')}?{back}")
            if not used_second_factor(request):
                return redirect(f"{reverse('mfa_reauthenticate')}?{back}")
        return get_response(request)

    return middleware
