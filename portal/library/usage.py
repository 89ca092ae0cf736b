"""Per-user storage accounting, kept in one counter that uploads and deletions move atomically."""

from django.db.models import F
from django.utils.translation import gettext as _

from billing.models import plan_for
from portal.accounts.models import User
from portal.library.errors import UploadRejected


def storage_quota_bytes(user) -> int:
    """The storage of the user's plan (billing/plans.py), read from the local database."""
    return plan_for(user).storage_bytes


def reserve(user, nbytes: int) -> None:
    """Count nbytes against the user's quota, or refuse; one UPDATE, so concurrent uploads cannot overshoot."""
    limit = storage_quota_bytes(user)
    updated = User.objects.filter(pk=user.pk, storage_used_bytes__lte=limit - nbytes).update(
        storage_used_bytes=F("storage_used_bytes") + nbytes
    )
    if not updated:
        raise UploadRejected(
            "storage_quota_exceeded",
            _("Your storage is full. Delete portraits or audio you no longer need, then try again."),
            status=413,
        )


def add(user_id: int, nbytes: int) -> None:
    """Count what the user already has (a rendered video): never refused, only later uploads are."""
    User.objects.filter(pk=user_id).update(storage_used_bytes=F("storage_used_bytes") + nbytes)


def release(user_id: int, nbytes: int) -> None:
    User.objects.filter(pk=user_id).update(storage_used_bytes=F("storage_used_bytes") - nbytes)
