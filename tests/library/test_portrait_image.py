import uuid

from django.urls import reverse

from tests.library_helpers import add_portrait


def test_owner_gets_the_stored_image(owner_client, owner):
    portrait = add_portrait(owner)
    response = owner_client.get(reverse("library:portrait_image", args=[portrait.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"].startswith("private")
    body = b"".join(response.streaming_content)
    assert body == portrait.file.open().read()


def test_outsider_gets_404(outsider_client, owner):
    portrait = add_portrait(owner)
    assert outsider_client.get(reverse("library:portrait_image", args=[portrait.id])).status_code == 404


def test_anonymous_is_sent_to_login(client, owner):
    portrait = add_portrait(owner)
    response = client.get(reverse("library:portrait_image", args=[portrait.id]))
    assert response.status_code == 302 and reverse("account_login") in response.url


def test_unknown_id_is_404(owner_client):
    assert owner_client.get(reverse("library:portrait_image", args=[uuid.uuid4()])).status_code == 404
