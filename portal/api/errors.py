"""One error shape for every API refusal: {"error": {"code", "message", "field"?, "upgrade_url"?, "request_id"}}.

Codes are the stable ones the web pages use (portal.errors.Refusal and its subclasses); DRF's own refusals get
codes of the same kind."""

from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from portal.errors import NOT_FOUND_MESSAGE, Refusal, error_body

_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.ParseError: "invalid_body",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.PermissionDenied: "forbidden",
}


# DRF's validation codes that clients branch on get codes of their own; the rest are invalid_request.
_VALIDATION_CODES = {"unknown_parameter": "unknown_parameter", "required": "missing_parameter"}


def _first_problem(detail, path: str = "") -> tuple[str, str, str]:
    """The first field, message and code of a DRF ValidationError's detail (nested dicts and lists included)."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first_problem(value, name)
    if isinstance(detail, list) and detail:
        return _first_problem(detail[0], path)
    return path, str(detail), _VALIDATION_CODES.get(getattr(detail, "code", ""), "invalid_request")


def refusal_body(request, exc: Exception) -> tuple[int, dict] | None:
    if isinstance(exc, Refusal):
        return exc.status, error_body(request, exc.code, exc.message, exc.field, **exc.extra())
    if isinstance(exc, Http404):
        return 404, error_body(request, "not_found", NOT_FOUND_MESSAGE)
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_problem(exc.detail)
        text = f"{field}: {message}" if field else message
        return 400, error_body(request, code, text, field or None)
    if isinstance(exc, exceptions.AuthenticationFailed):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) and codes != "authentication_failed" else "invalid_api_key"
        return exc.status_code, error_body(request, code, str(exc.detail))
    if isinstance(exc, exceptions.NotFound):
        return 404, error_body(request, "not_found", NOT_FOUND_MESSAGE)
    if isinstance(exc, exceptions.Throttled):
        message = _("Too many requests for your plan's rate limit; retry in %(seconds)s s.") % {
            "seconds": f"{exc.wait:.0f}"
        }
        return 429, error_body(request, "rate_limited", message)
    if isinstance(exc, exceptions.APIException):
        code = next((c for kind, c in _CODES.items() if isinstance(exc, kind)), "invalid_request")
        return exc.status_code, error_body(request, code, str(exc.detail))
    return None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: the error shape, with DRF's headers (WWW-Authenticate, Retry-After) kept."""
    request = context["request"]
    answer = refusal_body(request, exc)
    if answer is None:
        return None  # a bug: Django's 500 handler answers (in the same shape under /api/)
    status_code, body = answer
    headers = {}
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) or 1)
    return Response(body, status=status_code, headers=headers)


@csrf_exempt  # a POST to an unknown URL is a 404, not the CSRF page
def not_found(request, *args, **kwargs):
    """Unknown URLs under /api/v1/ answer in the API's shape, not with the portal's HTML page."""
    return JsonResponse(
        error_body(request, "not_found", _("No such endpoint; see /api/v1/docs/.")), status=status.HTTP_404_NOT_FOUND
    )
