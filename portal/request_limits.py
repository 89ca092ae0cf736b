"""Request bodies larger than their endpoint takes are refused on the Content-Length header, before anything reads
them (CSRF checking parses a form body first, and Django would write a large one to the temp folder whole).

Only a signed-in user (or a script with an API key) can send a file-sized body, and only to an upload endpoint;
everything else, and anyone else, gets DATA_UPLOAD_MAX_MEMORY_SIZE. The proxy in front should refuse larger bodies
still (README "Deploying behind a proxy")."""

from django.conf import settings
from django.http import HttpResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from portal.errors import error_response

# A multipart body carries the file plus its boundaries and headers.
_MULTIPART_OVERHEAD = 64 * 1024


def _upload_limits() -> dict[str, int]:
    return {
        "library:upload_portrait": settings.PORTRAIT_MAX_BYTES + _MULTIPART_OVERHEAD,
        "library:upload_audio": settings.AUDIO_MAX_BYTES + _MULTIPART_OVERHEAD,
        "library:upload": settings.UPLOAD_PART_MAX_BYTES,
        "api:portraits": settings.PORTRAIT_MAX_BYTES + _MULTIPART_OVERHEAD,
        "api:audio_clips": settings.AUDIO_MAX_BYTES + _MULTIPART_OVERHEAD,
    }


def body_limit(request) -> int:
    """The largest body this request may send."""
    default = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        name = resolve(request.path_info).view_name
    except Resolver404:
        return default
    limit = _upload_limits().get(name)
    if limit is None:
        return default
    signed_in = request.user.is_authenticated or request.headers.get("Authorization", "").startswith("Bearer ")
    return limit if signed_in else default


def body_size_limit(get_response):
    """Answer 413 to a body over its endpoint's limit without reading it."""

    def middleware(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # Most requests carry less than any limit: only a larger body costs the URL lookup.
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = body_limit(request)
            if length > limit:
                return _too_large(request, limit)
        return get_response(request)

    return middleware


def _too_large(request, limit: int):
    message = _("The request is larger than this address takes (%(limit)s bytes).") % {"limit": limit}
    if (
        request.path_info.startswith("/api/")
        or "application/json" in request.headers.get("Accept", "")
        or "Tus-Resumable" in request.headers
    ):
        response = error_response(request, "request_too_large", message, 413)
    else:
        response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    return response  # the server closes the connection: its unread body cannot be taken for the next request
