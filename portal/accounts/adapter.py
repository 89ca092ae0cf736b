from types import SimpleNamespace
from urllib.parse import quote, urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse
from django.utils import translation


class AccountAdapter(DefaultAccountAdapter):
    """Links in emails are built on SITE_URL, so they are right behind a proxy and outside a request; emails name
    the product and SITE_URL, never the host a request happened to come in on. Emails are in the recipient's saved
    language, else the request's."""

    def send_mail(self, template_prefix, email, context):
        site = SimpleNamespace(name="Sonic Portal", domain=urlsplit(settings.SITE_URL).netloc)
        language = getattr(context.get("user"), "language", "") or translation.get_language()
        with translation.override(language):
            super().send_mail(template_prefix, email, {**context, "current_site": site})

    def save_user(self, request, user, form, commit=True):
        """A new account keeps the language it signed up in, so emails sent later outside a request (retention
        notices) are in it too; the switcher and the settings page change it."""
        user.language = translation.get_language() or ""
        return super().save_user(request, user, form, commit=commit)

    def get_email_confirmation_url(self, request, emailconfirmation):
        return settings.SITE_URL + reverse("account_confirm_email", args=[emailconfirmation.key])

    def get_reset_password_from_key_url(self, key):
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return settings.SITE_URL + path.replace("UID-KEY", quote(key))
