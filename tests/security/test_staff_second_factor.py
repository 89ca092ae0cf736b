"""Staff powers and the second factor. An outside probe found that only the refund permission asked for one: staff
who could change render seconds, plans or users (is_superuser included) needed a password alone, and the first
authenticator was whoever enrolled first, so a stolen password could enrol the thief's app. Now every permission
that changes money, quota, plans, accounts or rights needs a code from an authenticator app, the first app is set up
only from a one-time link emailed to the staff member, and recovery codes stand in for a lost phone."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.support.models import SecondFactorSetupLink
from portal.support.second_factor import needs_second_factor, sensitive
from tests.factories import PASSWORD, make_user, totp_code, with_second_factor

ADMIN = reverse("admin:index")
SETUP = reverse("second_factor_setup")
ACTIVATE = reverse("mfa_activate_totp")

# What a staff member may do in admin that gives no one money, render time, a plan, an account or rights: each is
# listed with why, so a model added to admin later fails test_every_admin_power_is_classified until it is.
HARMLESS = {
    "library.delete_portrait": "removes a user's upload (abuse); its storage is given back",
    "library.delete_audioclip": "removes a user's upload (abuse); its storage is given back",
    "library.change_portrait": "every field is read-only",
    "library.change_audioclip": "every field is read-only",
    "jobs.change_job": "every field is read-only; the job page's actions have permissions of their own",
    "jobs.renew_download_link": "a fresh link to a video support may already view",
    "jobs.change_webhookdelivery": "read-only",
    "jobs.delete_webhookdelivery": "a delivery's record only",
    "django_dramatiq.change_task": "queue bookkeeping",
    "django_dramatiq.delete_task": "queue bookkeeping",
    "admin.change_logentry": "read-only",
    "admin.delete_logentry": "read-only",
    "support.change_auditevent": "read-only",
    "support.delete_auditevent": "read-only",
}


def staff_with(*permissions: str, superuser: bool = False) -> User:
    user = make_user(f"staff{User.objects.count()}@example.com")
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=superuser)
    for permission in permissions:
        app, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    return User.objects.get(pk=user.pk)


def signed_in_with_password(user: User) -> Client:
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


def admin_powers() -> set[str]:
    """Every permission that lets a staff member who holds only it add, change or delete something in admin, and the
    job page's actions."""
    from django.test import RequestFactory

    powers = set()
    for model, model_admin in admin.site._registry.items():
        for action in ("add", "change", "delete"):
            permission = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
            request = RequestFactory().get(ADMIN)
            request.user = staff_with(permission)
            if getattr(model_admin, f"has_{action}_permission")(request):
                powers.add(permission)
        powers.update(f"{model._meta.app_label}.{codename}" for codename, _ in model._meta.permissions)
    return powers


def test_every_admin_power_is_classified(db):
    unclassified = sorted(power for power in admin_powers() if not sensitive(power) and power not in HARMLESS)
    assert unclassified == [], "say whether each needs a second factor (SENSITIVE_* or HARMLESS here)"


def test_course_platform_registrations_are_changed_by_superusers_only(db):
    """An LTI registration decides which platform vouches for teachers and students, a tool key signs our answers to
    platforms: no permission alone opens them (superusers always use a second factor). Course videos are read-only:
    their owner ends one by deleting the video or revoking its link."""
    from django.test import RequestFactory
    from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiTool, LtiToolKey

    from portal.lti.models import CourseVideo

    def request_by(user):
        request = RequestFactory().get(ADMIN)
        request.user = user
        return request

    for model in (LtiTool, LtiToolKey, CourseVideo):
        model_admin = admin.site._registry[model]
        for action in ("add", "change", "delete"):
            permission = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
            assert not getattr(model_admin, f"has_{action}_permission")(request_by(staff_with(permission)))
        can = model is not CourseVideo
        assert model_admin.has_change_permission(request_by(staff_with(superuser=True))) == can


@pytest.mark.parametrize(
    "permission",
    [
        "billing.change_billingaccount",  # extra_seconds, plan_override
        "billing.change_usageperiod",
        "accounts.change_user",
        "accounts.add_user",  # is_superuser, is_staff
        "auth.change_group",
        "account.change_emailaddress",  # a changed email address takes the account over
        "mfa.delete_authenticator",
        "api.delete_apikey",
        "jobs.refund_job",
        "jobs.retry_job",
        "jobs.cancel_job",
        "jobs.delete_job",
    ],
)
def test_staff_who_can_change_money_quota_plans_or_accounts_need_a_second_factor(db, permission):
    staff = staff_with("jobs.view_job", permission)
    assert needs_second_factor(staff)
    response = signed_in_with_password(staff).get(reverse("admin:jobs_job_changelist"))
    assert response.status_code == 302 and response.url.startswith(SETUP), response.url


def test_a_superuser_needs_one_too(db):
    client = signed_in_with_password(staff_with(superuser=True))
    assert client.get(ADMIN).url.startswith(SETUP)


def test_staff_who_only_look_do_not(db):
    viewer = staff_with("jobs.view_job", "billing.view_billingaccount", "jobs.renew_download_link")
    assert not needs_second_factor(viewer)
    assert signed_in_with_password(viewer).get(ADMIN).status_code == 200


def test_a_password_alone_cannot_enrol_an_authenticator(db):
    staff = staff_with("billing.change_billingaccount")
    thief = signed_in_with_password(staff)
    page = thief.get(ACTIVATE)
    assert page.status_code == 302 and page.url.startswith(SETUP)
    posted = thief.post(ACTIVATE, {"code": "123456"})
    assert posted.status_code == 302 and posted.url.startswith(SETUP)
    assert not Authenticator.objects.filter(user=staff).exists()


def emailed_link(to: str) -> str:
    (message,) = [message for message in mail.outbox if message.to == [to]]
    assert "set up an authenticator app" in message.body and "do not open it" in message.body
    return re.search(r"https?://\S+/accounts/2fa/staff/\S+/", message.body)[0]


def activate_app(client: Client) -> str:
    """Scan the QR code (read the secret) and enter the app's code: the TOTP secret."""
    page = client.get(ACTIVATE, follow=True)
    if "reauthenticate" in page.redirect_chain[-1][0] if page.redirect_chain else False:
        page = client.post(page.redirect_chain[-1][0], {"password": PASSWORD}, follow=True)
    secret = page.context["form"].secret
    done = client.post(ACTIVATE, {"code": totp_code(secret)})
    assert done.status_code == 302 and done.url == reverse("mfa_view_recovery_codes"), "recovery codes shown next"
    return secret


@pytest.mark.slow
def test_the_first_authenticator_is_set_up_from_a_one_time_emailed_link(db):
    staff = staff_with("accounts.change_user")
    client = signed_in_with_password(staff)
    page = client.get(client.get(ADMIN).url)
    assert page.status_code == 200 and "Email me the setup link" in page.content.decode()
    sent = client.post(SETUP)
    assert 'data-code="setup_link_sent"' in sent.content.decode()
    link = emailed_link(staff.email)
    assert "Subject" not in link and mail.outbox[0].subject.startswith("[Sonic Portal]")
    path = link.split("://", 1)[1].split("/", 1)[1]

    someone_else = signed_in_with_password(staff_with("accounts.change_user"))
    assert someone_else.get("/" + path).status_code == 400, "the link is for its own account only"

    opened = client.get("/" + path)
    assert opened.status_code == 302 and opened.url.startswith(ACTIVATE)
    activate_app(client)
    assert Authenticator.objects.filter(user=staff, type=Authenticator.Type.TOTP).exists()
    assert client.get("/" + path).status_code == 400, "once only"

    # On a new device: the password, then a code (here a recovery code, as when the phone is lost).
    fresh = Client()
    step = fresh.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert step.url == reverse("mfa_authenticate")
    codes = RecoveryCodes(Authenticator.objects.get(user=staff, type=Authenticator.Type.RECOVERY_CODES))
    assert fresh.post(reverse("mfa_authenticate"), {"code": codes.get_unused_codes()[0]}).status_code == 302
    assert fresh.get(ADMIN).status_code == 200


def test_an_expired_link_is_refused_and_a_new_one_can_be_asked_for(db):
    staff = staff_with("billing.change_billingaccount")
    client = signed_in_with_password(staff)
    client.post(SETUP)
    path = "/" + emailed_link(staff.email).split("://", 1)[1].split("/", 1)[1]
    assert client.post(SETUP).status_code == 200 and len(mail.outbox) == 1, "not twice within a minute"
    SecondFactorSetupLink.objects.update(
        expires_at=timezone.now() - timedelta(seconds=1), created_at=timezone.now() - timedelta(minutes=31)
    )
    refused = client.get(path)
    assert refused.status_code == 400 and 'data-code="setup_link_invalid"' in refused.content.decode()
    assert client.get(ACTIVATE).url.startswith(SETUP)
    client.post(SETUP)
    assert len(mail.outbox) == 2


def test_staff_with_an_app_enter_a_code_in_each_session(db):
    staff = staff_with("billing.change_billingaccount")
    secret = with_second_factor(Client(), staff)
    fresh = Client()
    assert fresh.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD}).url == reverse(
        "mfa_authenticate"
    )
    assert fresh.get(ADMIN).status_code == 302
    assert fresh.post(reverse("mfa_authenticate"), {"code": totp_code(secret)}).status_code == 302
    assert fresh.get(ADMIN).status_code == 200
