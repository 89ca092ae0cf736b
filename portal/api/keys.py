"""Making, finding and revoking API keys: the only module that sees a key in clear."""

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from portal.api.models import ApiKey

KEY_PREFIX = "sonic_"
SHOWN_CHARACTERS = 12  # "sonic_" and six random characters: enough to recognise a key, useless to guess it
# last_used_at is written at most this often per key, so busy keys do not turn every request into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(user, name: str, expires_at=None) -> tuple[ApiKey, str]:
    """A new key for user; returns the row and the key itself, which is never stored and cannot be shown again."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        owner=user,
        name=name.strip()[:100] or "API key",
        prefix=key[:SHOWN_CHARACTERS],
        hashed_key=_digest(key),
        expires_at=expires_at,
    )
    return api_key, key


def find(key: str) -> ApiKey | None:
    """The key's row (revoked and expired ones included), or None for a key that was never made."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    return ApiKey.objects.select_related("owner").filter(hashed_key=_digest(key)).first()


def touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def revoke(api_key: ApiKey) -> None:
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
