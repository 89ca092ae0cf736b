from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from portal.accounts.preferences import known_time_zones


def _time_zone_choices():
    return [("", _("Detected by your browser"))] + [(name, name) for name in sorted(known_time_zones())]


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        choices=[("", _("Your browser's language"))] + list(settings.LANGUAGES),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        required=False,
        choices=_time_zone_choices,
        help_text=_("Dates and times on every page and in emails are shown in this time zone."),
    )
    email_when_finished = forms.BooleanField(
        label=_("Email me when a video is ready or has failed"),
        required=False,
        help_text=_("Useful for long lectures: you can close the page while it renders."),
    )
