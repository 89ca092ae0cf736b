import io

import pytest
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from portal.library.models import Portrait, Upload
from tests.factories import FIXTURES, stored_files
from tests.library_helpers import assert_refused_and_nothing_kept, run_check, send_whole
from tests.media import image_bytes, upload

URL = reverse("library:upload_portrait")


def post(client, name, content):
    return send_whole(client, URL, name, content)


def assert_rejected(sent, code, owner, status=None):
    assert_refused_and_nothing_kept(sent, code, owner, Portrait, status)


@pytest.mark.parametrize(
    "name, image_format", [("me.jpg", "JPEG"), ("me.JPEG", "JPEG"), ("me.png", "PNG"), ("me.webp", "WEBP")]
)
def test_owner_uploads_each_format(owner_client, owner, name, image_format):
    response = post(owner_client, name, image_bytes(image_format))
    assert response.status == "ready"
    portrait = Portrait.objects.get(id=response.item_id)
    assert (portrait.owner, portrait.original_name, portrait.image_format) == (owner, name, image_format)
    assert (portrait.width, portrait.height) == (400, 500)
    # Stored under the owner's prefix with a server-made name, never the uploader's file name.
    assert portrait.file.name.startswith(f"users/{owner.storage_prefix}/portraits/")
    assert "me" not in portrait.file.name.rsplit("/", 1)[1]
    assert Image.open(portrait.thumbnail.open()).size == (256, 320)
    owner.refresh_from_db()
    assert owner.storage_used_bytes == portrait.size_bytes == portrait.file.size + portrait.thumbnail.size


def test_committed_fixture_portrait_is_accepted(owner_client):
    response = post(owner_client, "astronaut.jpg", (FIXTURES / "portrait.jpg").read_bytes())
    assert response.status == "ready"


def test_exif_orientation_is_applied_and_metadata_dropped(owner_client):
    # Orientation 6: the camera was turned; the 400×500 pixels are shown rotated to 500×400.
    response = post(owner_client, "phone.jpg", image_bytes("JPEG", (400, 500), exif_orientation=6))
    portrait = Portrait.objects.get(id=response.item_id)
    assert (portrait.width, portrait.height) == (500, 400)
    stored = Image.open(portrait.file.open())
    assert stored.size == (500, 400)
    assert not stored.getexif(), "EXIF (orientation, GPS) must not be kept"
    # The red marker that was top-left is now top-right after the 90° turn.
    red, green, _ = stored.convert("RGB").getpixel((stored.width - 10, 10))
    assert red > 200 and green < 60


def test_html_form_upload_redirects_to_library_which_shows_it_checking_then_ready(owner_client):
    response = owner_client.post(URL, {"file": upload("me.png", image_bytes("PNG"))})
    assert response.status_code == 302 and response.url == reverse("library:index")
    page = owner_client.get(response.url).content.decode()
    assert "Checking me.png; it appears in your library when it is ready." in page
    assert 'class="upload-state checking"' in page
    run_check(Upload.objects.get().id)
    page = owner_client.get(response.url).content.decode()
    assert 'class="upload-state' not in page and 'alt="me.png"' in page


def test_html_form_rejection_shows_code_and_message(owner_client):
    response = owner_client.post(URL, {"file": upload("notes.txt", b"hello")})
    page = owner_client.get(response.url).content.decode()
    assert 'data-code="unsupported_type"' in page
    assert "Portraits must be JPEG, PNG or WebP" in page


def test_refusal_after_the_check_is_shown_until_dismissed(owner_client, owner):
    owner_client.post(URL, {"file": upload("cat.png", image_bytes("PNG", (100, 300)))})
    run_check(Upload.objects.get().id)
    page = owner_client.get(reverse("library:index")).content.decode()
    assert 'data-code="image_too_small"' in page and "cat.png" in page
    dismiss = reverse("library:dismiss_upload", args=[Upload.objects.get().id])
    assert owner_client.post(dismiss).status_code == 302
    assert not Upload.objects.exists()
    assert "cat.png" not in owner_client.get(reverse("library:index")).content.decode()


def test_no_file(owner_client, owner):
    response = owner_client.post(URL, {}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_file"
    assert not Upload.objects.exists()


def test_empty_file(owner_client, owner):
    assert_rejected(post(owner_client, "me.jpg", b""), "empty_file", owner)


@override_settings(PORTRAIT_MAX_BYTES=1000)
def test_file_too_large(owner_client, owner):
    response = post(owner_client, "me.png", image_bytes("PNG", (400, 400)) + b"\0" * 1000)
    assert_rejected(response, "file_too_large", owner, status=413)
    assert "limit is 1000" in response.error["message"]


def test_unsupported_type(owner_client, owner):
    assert_rejected(post(owner_client, "me.gif", image_bytes("GIF")), "unsupported_type", owner)


def test_unreadable_image(owner_client, owner):
    assert_rejected(post(owner_client, "me.jpg", b"this is not an image at all" * 10), "unreadable_image", owner)


def test_truncated_image(owner_client, owner):
    content = image_bytes("PNG", (600, 600))
    assert_rejected(post(owner_client, "me.png", content[: len(content) // 2]), "unreadable_image", owner)


@pytest.mark.parametrize(
    "name, content",
    [
        ("me.jpg", image_bytes("PNG")),  # PNG disguised as JPEG
        ("me.webp", image_bytes("JPEG")),
        ("me.png", image_bytes("GIF")),  # a format we do not accept, under an accepted name
    ],
)
def test_wrong_extension_or_disguised_content(owner_client, owner, name, content):
    assert_rejected(post(owner_client, name, content), "format_mismatch", owner)


def test_animated_image(owner_client, owner):
    frames = [Image.new("RGB", (300, 300), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    assert_rejected(post(owner_client, "me.png", buffer.getvalue()), "animated_image", owner)


def test_image_too_small(owner_client, owner):
    response = post(owner_client, "me.jpg", image_bytes("JPEG", (191, 400)))
    assert_rejected(response, "image_too_small", owner)
    assert "191×400" in response.error["message"]


def test_image_too_large(owner_client, owner):
    assert_rejected(post(owner_client, "me.png", image_bytes("PNG", (4097, 200))), "image_too_large", owner)


@pytest.mark.slow
def test_decompression_bomb_refused_without_decoding(owner_client, owner):
    # 20000×20000 px of one colour compresses to a few hundred kB but would need 1.2 GB to decode.
    bomb = Image.new("L", (20000, 20000))
    buffer = io.BytesIO()
    bomb.save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 10 * 1024 * 1024
    assert_rejected(post(owner_client, "me.png", buffer.getvalue()), "decompression_bomb", owner)


@override_settings(STORAGE_QUOTA_BYTES=50_000)
def test_storage_quota_exceeded(owner_client, owner):
    assert post(owner_client, "small.png", image_bytes("PNG", (200, 200))).status == "ready"
    used = owner.__class__.objects.get(pk=owner.pk).storage_used_bytes
    response = post(owner_client, "big.jpg", image_bytes("JPEG", (600, 600), noise=True, quality=100))
    assert response.http_status == 413, "refused on its declared size, before it is stored"
    assert response.error["code"] == "storage_quota_exceeded"
    assert Portrait.objects.count() == 1 and len(stored_files()) == 2
    owner.refresh_from_db()
    assert owner.storage_used_bytes == used


def test_anonymous_is_sent_to_login(client):
    response = client.post(URL, {"file": upload("me.png", image_bytes("PNG"))})
    assert response.status_code == 302 and reverse("account_login") in response.url
    assert stored_files() == []


def test_get_is_not_allowed(owner_client):
    assert owner_client.get(URL).status_code == 405


def test_rejection_body_is_stable_json(owner_client):
    error = post(owner_client, "me.jpg", b"").body["error"]
    assert error == {"code": "empty_file", "message": "The file is empty.", "request_id": error["request_id"]}
    assert error["request_id"].startswith("req_")
