"""However a job goes (the user, support in admin, retention, an account deleted), its files go with it, its
storage stops counting, and a reservation it still holds is given back."""

from django.db import transaction

from billing import quota
from billing.models import Reservation
from portal import storage
from portal.accounts.models import User
from portal.concurrent_deletes import deleted_elsewhere
from portal.jobs.models import Job, JobSegment
from portal.library import usage


def release_reservation_of_deleted_job(sender, instance: Job, origin=None, **kwargs) -> None:
    """pre_delete: a job deleted while queued or running gives its reserved render seconds back (unless its whole
    account is being deleted: the ledger goes with it)."""
    if isinstance(origin, User) or getattr(origin, "model", None) is User or deleted_elsewhere(instance):
        return
    if (
        instance.reservation_id
        and Reservation.objects.filter(pk=instance.reservation_id, state=Reservation.RESERVED).exists()
    ):
        quota.refund(instance.reservation)


def remove_files_of_deleted_job(sender, instance: Job, **kwargs) -> None:
    """post_delete: the video, its poster and its captioned copy, and what they counted against the owner's
    storage."""
    if deleted_elsewhere(instance):
        return
    usage.release(instance.owner_id, instance.stored_bytes)
    names = [instance.output.name, instance.poster.name, instance.burned_in.name]
    transaction.on_commit(lambda: storage.delete_files(names))


def remove_file_of_deleted_part(sender, instance: JobSegment, **kwargs) -> None:
    """post_delete: a part's video, while it had not yet been joined."""
    name = instance.output.name
    transaction.on_commit(lambda: storage.delete_files([name]))
