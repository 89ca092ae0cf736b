"""Each request in the user's language and time zone.

LocaleMiddleware has already chosen a language from the switcher's cookie or the browser's Accept-Language. Here,
after authentication, a signed-in user's saved language wins over both (the same on every device), and a response
that sets the language cookie (the switcher, django.views.i18n.set_language) saves the choice on the signed-in user.
The time zone is the user's saved one, else the one the browser reports in the `tz` cookie (static/js/timezone.js),
else UTC. The REST API follows Accept-Language only: a script says what it wants in each request.
"""

import zoneinfo
from functools import cache

from django.conf import settings
from django.utils import timezone, translation


@cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid_time_zone(name: str | None) -> str | None:
    """The name when it is a time zone this machine knows (cookies and form posts are not trusted), else None."""
    return name if name and name in known_time_zones() else None


def supported_language(code: str | None) -> str | None:
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def user_preferences(get_response):
    def middleware(request):
        user = getattr(request, "user", None)
        signed_in = bool(user and user.is_authenticated)
        if signed_in and not request.path.startswith("/api/"):
            language = supported_language(user.language)
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        zone = valid_time_zone(user.time_zone if signed_in else None) or valid_time_zone(
            request.COOKIES.get(settings.TIME_ZONE_COOKIE_NAME)
        )
        if zone:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()  # the thread's previous request may have activated another user's zone
        response = get_response(request)
        chosen = response.cookies.get(settings.LANGUAGE_COOKIE_NAME)
        if signed_in and chosen is not None:
            remember_language(user, chosen.value)
        return response

    return middleware


def remember_language(user, code: str) -> None:
    language = supported_language(code) or ""
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
