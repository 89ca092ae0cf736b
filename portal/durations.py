"""Durations in words and clock form for people, in their language: pages, emails and refusal messages alike."""

import math

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def duration_clock(seconds) -> str:
    """7.34 -> "7.3 s"; 65.2 -> "1:05"; 3725 -> "1:02:05" (the decimal mark and unit in the user's language)."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("%(seconds)s s") % {"seconds": number_format(seconds, 1)}
    minutes, secs = divmod(math.floor(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_left(seconds) -> str:
    """An estimate for people: 40 -> "less than a minute left"; 500 -> "about 8 min left"."""
    if seconds is None:
        return ""
    if seconds < 60:
        return _("less than a minute left")
    minutes = round(seconds / 60)
    if minutes < 90:
        return ngettext("about %(minutes)d min left", "about %(minutes)d min left", minutes) % {"minutes": minutes}
    return _("about %(hours)s h left") % {"hours": number_format(minutes / 60, 1)}
