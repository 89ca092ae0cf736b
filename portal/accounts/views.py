from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from portal.accounts.forms import PreferencesForm


@login_required
def preferences(request):
    """Language, time zone and emails, saved on the account (so every device and every email uses them)."""
    user = request.user
    form = PreferencesForm(
        request.POST or None,
        initial={
            "language": user.language,
            "time_zone": user.time_zone,
            "email_when_finished": user.email_when_finished,
        },
    )
    if request.method == "POST" and form.is_valid():
        user.language, user.time_zone = form.cleaned_data["language"], form.cleaned_data["time_zone"]
        user.email_when_finished = form.cleaned_data["email_when_finished"]
        user.save(update_fields=["language", "time_zone", "email_when_finished"])
        # The confirmation is already in the language just chosen; "browser's language" means the Accept-Language.
        language = user.language or translation.get_language_from_request(request)
        translation.activate(language)
        messages.success(request, _("Saved your preferences."))
        response = redirect("account_preferences")
        if user.language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
            )
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    return render(request, "account/preferences.html", {"form": form}, status=400 if form.errors else 200)
