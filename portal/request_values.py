"""Values that nothing behind the portal can store or look up are refused at the door, the same way on every URL:
a NUL character (PostgreSQL text cannot hold one) or a lone surrogate (it has no UTF-8 form) in the path, the query,
a cookie, a form field or a JSON body, and JSON nested deeper than JSON_MAX_DEPTH (Python's parser recurses, and
fails past a thousand levels). A path answers 404, as no object has such a name; the rest 400 with a stable code,
in the API's error shape where the client speaks JSON."""

import json
import re

from django.http import Http404, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from portal.errors import NOT_FOUND_MESSAGE, error_body

# Deeper than any body the portal takes (a job request is 3 levels, a Stripe event about 8).
JSON_MAX_DEPTH = 64
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENING = frozenset(b"[{")


def unstorable(text: str) -> bool:
    """A NUL, or a lone surrogate (from a JSON escape such as \\ud800)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_deeper_than(body: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects deeper than `limit`, read without parsing it (brackets inside
    strings do not count)."""
    depth = 0
    for byte in _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", body)):
        depth += 1 if byte in _OPENING else -1
        if depth > limit:
            return True
    return False


def _any_unstorable(value) -> bool:
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, dict):
        return any(unstorable(key) or _any_unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_any_unstorable(item) for item in value)
    return False


def _multi_unstorable(values) -> bool:
    """A QueryDict or a cookie dict: any key or value."""
    items = values.lists() if hasattr(values, "lists") else ((key, [value]) for key, value in values.items())
    return any(unstorable(key) or any(unstorable(value) for value in group) for key, group in items)


def _json_body(request) -> bool:
    return request.content_type == "application/json" or request.content_type.endswith("+json")


def _form_fields_read_here(request) -> bool:
    """A form's fields, but a multipart body (a file upload) only from a signed-in session: anyone else's is not read
    before the view has checked who sends it (an API key, say); forms refuse a NUL in their own fields."""
    if request.method != "POST":
        return False
    return request.content_type == _FORM or (request.content_type == _MULTIPART and request.user.is_authenticated)


def _refused(request, code: str, message: str):
    if (
        request.path_info.startswith("/api/")
        or _json_body(request)
        or "application/json" in request.headers.get("Accept", "")
    ):
        return JsonResponse(error_body(request, code, message), status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def refuse_unstorable_values(get_response):
    """404 for an unstorable path, 400 for an unstorable query, cookie, form field or JSON value, or JSON too deep."""

    def middleware(request):
        if unstorable(request.path_info):
            if request.path_info.startswith("/api/"):
                return JsonResponse(error_body(request, "not_found", NOT_FOUND_MESSAGE), status=404)
            raise Http404("no object has such a name")
        if (
            _multi_unstorable(request.GET)
            or _multi_unstorable(request.COOKIES)
            or (_form_fields_read_here(request) and _multi_unstorable(request.POST))
        ):
            return _refused(
                request,
                "invalid_character",
                _("The request contains a character that cannot be stored (a NUL or an unpaired surrogate)."),
            )
        if _json_body(request) and request.body:
            if json_deeper_than(request.body, JSON_MAX_DEPTH):
                return _refused(
                    request,
                    "invalid_json",
                    _("The JSON body nests deeper than %(limit)s levels.") % {"limit": JSON_MAX_DEPTH},
                )
            try:
                document = json.loads(request.body)
            except ValueError:
                document = None  # not JSON at all: the view says so in its own words
            if _any_unstorable(document):
                return _refused(
                    request,
                    "invalid_character",
                    _("The request contains a character that cannot be stored (a NUL or an unpaired surrogate)."),
                )
        return get_response(request)

    return middleware
