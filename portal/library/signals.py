from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from portal import storage
from portal.library import usage
from portal.library.models import AudioClip, Portrait, Upload


@receiver(post_delete, sender=Portrait)
@receiver(post_delete, sender=AudioClip)
def remove_files_of_deleted_upload(sender, instance, **kwargs):
    """However a row goes (view, admin, account deletion), its files and its storage usage go with it."""
    usage.release(instance.owner_id, instance.size_bytes)
    names = instance.stored_names()
    transaction.on_commit(lambda: storage.delete_files(names))


@receiver(post_delete, sender=Upload)
def remove_parts_of_deleted_upload(sender, instance, **kwargs):
    """An upload cancelled, abandoned or deleted with its owner: the parts go, and the storage it held."""
    if instance.status in (Upload.Status.RECEIVING, Upload.Status.CHECKING):
        usage.release(instance.owner_id, instance.length)
    names = list(instance.part_names)
    transaction.on_commit(lambda: storage.delete_files(names))
