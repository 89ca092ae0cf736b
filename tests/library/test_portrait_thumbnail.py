import io

from django.urls import reverse
from PIL import Image

from tests.library_helpers import add_portrait


def test_owner_gets_a_small_jpeg(owner_client, owner):
    portrait = add_portrait(owner, size=(800, 400))
    response = owner_client.get(reverse("library:portrait_thumbnail", args=[portrait.id]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (320, 160)


def test_outsider_gets_404(outsider_client, owner):
    portrait = add_portrait(owner)
    assert outsider_client.get(reverse("library:portrait_thumbnail", args=[portrait.id])).status_code == 404


def test_anonymous_is_sent_to_login(client, owner):
    portrait = add_portrait(owner)
    response = client.get(reverse("library:portrait_thumbnail", args=[portrait.id]))
    assert response.status_code == 302 and reverse("account_login") in response.url
