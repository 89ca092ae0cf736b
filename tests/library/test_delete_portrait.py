from django.urls import reverse

from portal.library.models import Portrait
from tests.factories import storage_has, stored_files
from tests.library_helpers import add_portrait


def test_owner_deletes_portrait_and_its_files(owner_client, owner, django_capture_on_commit_callbacks):
    portrait = add_portrait(owner)
    kept = add_portrait(owner, name="keep.png")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("library:delete_portrait", args=[portrait.id]))
    assert response.status_code == 302 and response.url == reverse("library:index")
    assert not Portrait.objects.filter(id=portrait.id).exists()
    assert not storage_has(portrait.file.name) and not storage_has(portrait.thumbnail.name)
    assert sorted(stored_files()) == sorted([kept.file.name, kept.thumbnail.name])
    owner.refresh_from_db()
    assert owner.storage_used_bytes == kept.size_bytes


def test_outsider_gets_404_and_nothing_is_deleted(outsider_client, owner):
    portrait = add_portrait(owner)
    response = outsider_client.post(reverse("library:delete_portrait", args=[portrait.id]))
    assert response.status_code == 404
    assert Portrait.objects.filter(id=portrait.id).exists() and storage_has(portrait.file.name)


def test_get_does_not_delete(owner_client, owner):
    portrait = add_portrait(owner)
    assert owner_client.get(reverse("library:delete_portrait", args=[portrait.id])).status_code == 405
    assert Portrait.objects.filter(id=portrait.id).exists()


def test_deleting_the_account_removes_its_files(owner, outsider, django_capture_on_commit_callbacks):
    add_portrait(owner)
    theirs = add_portrait(outsider)
    with django_capture_on_commit_callbacks(execute=True):
        owner.delete()
    assert stored_files() == sorted([theirs.file.name, theirs.thumbnail.name])
