"""Staff whose permissions change money, quota, plans, accounts or rights (and every superuser) use a second factor
before any admin page: an authenticator app (allauth's TOTP, with recovery codes) and a code entered in this
session. Their first authenticator can only be set up from a one-time link emailed to them, opened in the browser
that is signed in: a stolen password alone neither passes the check nor enrols the thief's own app."""

import hashlib
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from portal.support.models import SecondFactorSetupLink

# Any add, change or delete in these apps changes accounts, rights, plans, quota or money (allauth's "account" and
# "mfa" hold email addresses and authenticators, "api" the keys: changing them takes an account over; "checkpoints"
# decides which model every user's video is rendered with). A model added
# to one of these apps later is covered without a change here.
SENSITIVE_APPS = frozenset({"accounts", "auth", "account", "mfa", "api", "billing", "checkpoints"})
# Outside them, what gives render seconds back or spends them again.
SENSITIVE_PERMISSIONS = frozenset({"jobs.refund_job", "jobs.retry_job", "jobs.cancel_job", "jobs.delete_job"})
_CHANGES = ("add_", "change_", "delete_")
SETUP_LINK_MINUTES = 30
SETUP_WINDOW_SECONDS = 15 * 60  # after the link is opened, to scan the code and enter one
RESEND_AFTER_SECONDS = 60
_SETUP_ALLOWED_UNTIL = "second_factor_setup_allowed_until"


def sensitive(permission: str) -> bool:
    app, codename = permission.split(".", 1)
    return permission in SENSITIVE_PERMISSIONS or (app in SENSITIVE_APPS and codename.startswith(_CHANGES))


def needs_second_factor(user) -> bool:
    if not (user.is_authenticated and user.is_staff and user.is_active):
        return False
    return user.is_superuser or any(sensitive(permission) for permission in user.get_all_permissions())


def used_second_factor(request) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def send_setup_link(request) -> bool:
    """Email the signed-in staff member a one-time setup link; False when one went out less than a minute ago."""
    user = request.user
    now = timezone.now()
    if SecondFactorSetupLink.objects.filter(
        user=user, created_at__gt=now - timedelta(seconds=RESEND_AFTER_SECONDS), used_at__isnull=True
    ).exists():
        return False
    token = secrets.token_urlsafe(32)
    SecondFactorSetupLink.objects.create(
        user=user, token_hash=_hash(token), expires_at=now + timedelta(minutes=SETUP_LINK_MINUTES)
    )
    url = settings.SITE_URL + reverse("second_factor_setup_link", args=[token])
    get_adapter(request).send_mail(
        "support/email/second_factor_setup", user.email, {"user": user, "url": url, "minutes": SETUP_LINK_MINUTES}
    )
    return True


def open_setup_link(request, token: str) -> bool:
    """Spend the link (once, before it expires, by the user it was sent to): this browser may now set up an app."""
    now = timezone.now()
    spent = SecondFactorSetupLink.objects.filter(
        token_hash=_hash(token), user=request.user, used_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if spent:
        request.session[_SETUP_ALLOWED_UNTIL] = time.time() + SETUP_WINDOW_SECONDS
    return bool(spent)


def setup_allowed(request) -> bool:
    return request.session.get(_SETUP_ALLOWED_UNTIL, 0) > time.time()


def require_second_factor(get_response):
    """Staff who need a second factor: on /admin/, set one up (from the emailed link) or enter a code first."""
    admin_prefix = reverse("admin:index")
    activate_app = reverse("mfa_activate_totp")

    def middleware(request):
        on_admin = request.path.startswith(admin_prefix)
        if (on_admin or request.path == activate_app) and needs_second_factor(request.user):
            if not is_mfa_enabled(request.user, [Authenticator.Type.TOTP]):
                if not (request.path == activate_app and setup_allowed(request)):
                    return redirect("second_factor_setup")
            elif on_admin and not used_second_factor(request):
                back = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('mfa_reauthenticate')}?{back}")
        return get_response(request)

    return middleware
