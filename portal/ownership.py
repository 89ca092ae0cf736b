"""Who may see an object: its owner. One lookup for every page and API view, so "not yours" answers exactly like
"no such object" (404) everywhere, and a view cannot forget the owner filter."""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404

T = TypeVar("T", bound=Model)


def get_owned(objects: type[T] | QuerySet[T], user, object_id) -> T:
    """The object with this id if `user` owns it; otherwise Http404."""
    return get_object_or_404(objects, id=object_id, owner=user)
