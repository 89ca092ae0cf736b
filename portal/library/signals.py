from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from portal import storage
from portal.concurrent_deletes import deleted_elsewhere, lock_row_being_deleted
from portal.library import usage
from portal.library.models import AudioClip, Portrait, Upload, UploadPart

for model in (Portrait, AudioClip, Upload):
    pre_delete.connect(lock_row_being_deleted, sender=model, dispatch_uid=f"library.lock.{model.__name__}")


@receiver(post_delete, sender=Portrait)
@receiver(post_delete, sender=AudioClip)
def remove_files_of_deleted_upload(sender, instance, **kwargs):
    """However a row goes (view, admin, account deletion), its files and its storage usage go with it."""
    if deleted_elsewhere(instance):
        return
    usage.release(instance.owner_id, instance.size_bytes)
    names = instance.stored_names()
    transaction.on_commit(lambda: storage.delete_files(names))


@receiver(post_delete, sender=Upload)
def remove_parts_of_deleted_upload(sender, instance, **kwargs):
    """An upload cancelled, abandoned or deleted with its owner: the storage it held goes (its parts' rows, and
    with them their files, went just before)."""
    if instance.status in (Upload.Status.RECEIVING, Upload.Status.CHECKING) and not deleted_elsewhere(instance):
        usage.release(instance.owner_id, instance.length)


@receiver(post_delete, sender=UploadPart)
def remove_file_of_deleted_part(sender, instance, **kwargs):
    """However a part's row goes (assembled, refused, cancelled, with its upload or account), its file goes."""
    name = instance.name
    transaction.on_commit(lambda: storage.delete_files([name]))
