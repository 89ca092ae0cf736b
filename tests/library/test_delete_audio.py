from django.urls import reverse

from portal.library.models import AudioClip
from tests.factories import storage_has
from tests.library_helpers import add_audio


def test_owner_deletes_audio_and_its_file(owner_client, owner, django_capture_on_commit_callbacks):
    clip = add_audio(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("library:delete_audio", args=[clip.id]))
    assert response.status_code == 302
    assert not AudioClip.objects.filter(id=clip.id).exists()
    assert not storage_has(clip.file.name)
    owner.refresh_from_db()
    assert owner.storage_used_bytes == 0
    assert f"Deleted audio {clip.original_name}" in owner_client.get(response.url).content.decode()


def test_outsider_gets_404_and_nothing_is_deleted(outsider_client, owner):
    clip = add_audio(owner)
    assert outsider_client.post(reverse("library:delete_audio", args=[clip.id])).status_code == 404
    assert AudioClip.objects.filter(id=clip.id).exists() and storage_has(clip.file.name)


def test_anonymous_is_sent_to_login(client, owner):
    clip = add_audio(owner)
    response = client.post(reverse("library:delete_audio", args=[clip.id]))
    assert response.status_code == 302 and reverse("account_login") in response.url
    assert AudioClip.objects.filter(id=clip.id).exists()
