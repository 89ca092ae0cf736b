"""Two requests deleting the same row at once (a double click, a retried API call, support and retention together)
must give back what the row held exactly once. Django sends post_delete for every row it collected, even one that
another transaction deleted in between; a lock taken in pre_delete tells the two apart."""


def lock_row_being_deleted(sender, instance, **kwargs) -> None:
    """pre_delete: lock the row, waiting for anyone deleting it at this moment; a row already gone is marked."""
    instance._deleted_elsewhere = not sender._base_manager.select_for_update().filter(pk=instance.pk).exists()


def deleted_elsewhere(instance) -> bool:
    """In post_delete: another transaction deleted this row first, and gave back what it held."""
    return getattr(instance, "_deleted_elsewhere", False)
