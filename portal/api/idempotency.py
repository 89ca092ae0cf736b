"""`Idempotency-Key` on POSTs: the first response to a key is stored, and a retry with the same key and body gets
it back instead of doing the work again (no second job, no second charge).

The stored row is inserted first, in the same transaction as the work. A concurrent retry's INSERT waits on the
unique index until the first request commits, then finds its response; if the first one failed (rolled back), the
retry does the work itself. Keys are kept IDEMPOTENCY_KEY_HOURS; the same key with another body is refused."""

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from portal.api.errors import error_body, exception_handler
from portal.api.models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def fingerprint(request) -> str:
    """What makes two requests 'the same': method, path, fields and each file's name and content."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    fields = {
        key: request.data.getlist(key) if hasattr(request.data, "getlist") else request.data[key]
        for key in request.data
        if key not in request.FILES
    }
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            digest.update(f"\n{name}={upload.name}:{upload.size}:".encode())
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
    return digest.hexdigest()


def _replay(stored: IdempotentRequest) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if stored.location:
        headers["Location"] = stored.location
    return Response(stored.body, status=stored.status_code, headers=headers)


def _response_to(view, request, *args, **kwargs) -> Response:
    """The view's answer with refusals turned into error responses (so they are stored and replayed too)."""
    try:
        return view(request, *args, **kwargs)
    except Exception as exc:
        response = exception_handler(exc, {"request": request})
        if response is None:
            raise
        return response


def idempotent(view):
    """For an @api_view POST function: honour Idempotency-Key when the client sends one."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST":
            return view(request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return Response(
                error_body(
                    request, "invalid_idempotency_key", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.", HEADER
                ),
                status=400,
            )
        this_request = fingerprint(request)
        with transaction.atomic():
            IdempotentRequest.objects.filter(
                owner=request.user, created_at__lt=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
            ).delete()
            try:
                with transaction.atomic():
                    stored = IdempotentRequest.objects.create(owner=request.user, key=key, fingerprint=this_request)
            except IntegrityError:
                earlier = IdempotentRequest.objects.get(owner=request.user, key=key)
                if earlier.fingerprint != this_request:
                    return Response(
                        error_body(
                            request,
                            "idempotency_key_reused",
                            f"This {HEADER} was used with a different request in "
                            f"the last {settings.IDEMPOTENCY_KEY_HOURS} hours; use a new key for a new request.",
                            HEADER,
                        ),
                        status=422,
                    )
                return _replay(earlier)
            response = _response_to(view, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)  # nothing kept: a retry does the work again
                return response
            stored.status_code, stored.body = response.status_code, response.data
            stored.location = response.headers.get("Location", "")
            stored.save(update_fields=["status_code", "body", "location"])
        return response

    return wrapper
