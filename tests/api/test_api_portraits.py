"""/api/v1/portraits/: upload (stored at once, then checked and its face searched by a worker), the same refusals
as the web page, and owner-only access."""

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from PIL import Image

from portal.library import usage
from portal.library.models import Portrait
from tests.api.conftest import assert_check_refused, assert_error, assert_upload_refused, send_checked, storage_used
from tests.factories import FIXTURES, storage_has, stored_files
from tests.library_helpers import add_portrait
from tests.media import image_bytes, upload

URL = "/api/v1/portraits/"


def one(portrait_id) -> str:
    return f"{URL}{portrait_id}/"


def send(client, name: str, content: bytes):
    return client.post(URL, {"file": upload(name, content)}, format="multipart")


def checked(client, name: str, content: bytes) -> dict:
    return send_checked(client, URL, name, content)


def assert_refused(response, status: int, code: str, user, field: str | None = None) -> dict:
    return assert_upload_refused(response, status, code, user, Portrait, field)


def assert_check_refuses(client, name: str, content: bytes, code: str, user) -> dict:
    return assert_check_refused(checked(client, name, content), code, user, Portrait)


# --- Upload ---------------------------------------------------------------------------------------------------
def test_upload_is_checked_and_then_in_the_library_with_its_size_and_the_face_found(api, marketer):
    state = checked(api, "astronaut.jpg", (FIXTURES / "portrait.jpg").read_bytes())
    assert (state["status"], state["kind"], state["audio"]) == ("ready", "portrait", None)
    body = state["portrait"]
    portrait = Portrait.objects.get(id=body["id"], owner=marketer)
    assert (body["name"], body["format"]) == ("astronaut.jpg", "JPEG")
    assert (body["width"], body["height"]) == (portrait.width, portrait.height)
    assert body["size_bytes"] == portrait.size_bytes == storage_used(marketer)
    assert body["image_url"].endswith(f"{one(portrait.id)}image/")
    assert body["thumbnail_url"].endswith(f"{one(portrait.id)}thumbnail/")
    face = body["face"]
    assert face["checked"] is True and face["error"] is None
    assert face["faces_found"] >= 1
    left, top, right, bottom = face["box"]
    assert 0 <= left < right <= body["width"] and 0 <= top < bottom <= body["height"]
    assert stored_files() == sorted([portrait.file.name, portrait.thumbnail.name])


def test_the_request_stores_the_image_without_decoding_it(api):
    response = send(api, "me.png", image_bytes("PNG"))
    assert response.status_code == 202 and response.json()["status"] == "checking"
    assert not Portrait.objects.exists()


def test_the_ready_upload_names_the_same_portrait_as_its_own_url(api):
    state = checked(api, "me.png", image_bytes("PNG"))
    fetched = api.get(one(state["portrait"]["id"]))
    assert fetched.status_code == 200 and fetched.json() == state["portrait"]


def test_image_without_a_face_is_stored_and_says_no_face(api, marketer):
    body = checked(api, "wall.png", image_bytes("PNG", (400, 500)))["portrait"]
    assert (body["width"], body["height"]) == (400, 500)
    face = body["face"]
    assert face["checked"] is True
    assert face["error"]["code"] == "no_face" and face["error"]["message"]
    assert face["box"] is None
    assert Portrait.objects.filter(id=body["id"], owner=marketer).exists()
    assert len(stored_files()) == 2  # the image and its thumbnail


def test_a_tilted_head_is_stored_and_says_why_it_cannot_be_animated(api, marketer):
    """The animator moves the jaw straight down the picture: a head tilted 40 degrees is refused at upload, in
    the user's language, rather than rendered badly."""
    import cv2

    portrait = cv2.imread(str(FIXTURES / "portrait.jpg"))
    tilted = cv2.warpAffine(portrait, cv2.getRotationMatrix2D((256, 256), 40, 1), (512, 512))
    content = cv2.imencode(".png", tilted)[1].tobytes()
    body = checked(api, "tilted.png", content)["portrait"]
    face = body["face"]
    assert face["error"]["code"] == "face_not_frontal" and "tilted" in face["error"]["message"]
    assert face["box"] is None

    listed = api.get(one(body["id"]), HTTP_ACCEPT_LANGUAGE="zh-CN").json()["face"]["error"]
    assert listed["code"] == "face_not_frontal" and "倾斜" in listed["message"]


def test_exif_orientation_is_applied_to_the_reported_size(api):
    body = checked(api, "phone.jpg", image_bytes("JPEG", (400, 500), exif_orientation=6))["portrait"]
    assert (body["width"], body["height"]) == (500, 400)


# --- Refused at the door, before anything is stored: the web page's codes, in the API's error shape ---------
def test_no_file_is_refused_with_field_file(api, marketer):
    assert_refused(api.post(URL, {}, format="multipart"), 400, "no_file", marketer, field="file")


def test_file_under_another_field_name_is_refused_as_no_file(api, marketer):
    response = api.post(URL, {"photo": upload("me.png", image_bytes("PNG"))}, format="multipart")
    assert_refused(response, 400, "no_file", marketer, field="file")


def test_empty_file_is_refused(api, marketer):
    assert_refused(send(api, "me.jpg", b""), 400, "empty_file", marketer)


def test_unsupported_type_is_refused(api, marketer):
    assert_refused(send(api, "me.gif", image_bytes("GIF")), 400, "unsupported_type", marketer)


def test_file_over_the_size_limit_is_refused_with_413(api, marketer, settings):
    settings.PORTRAIT_MAX_BYTES = 1000
    error = assert_refused(send(api, "me.png", image_bytes("PNG") + b"\0" * 1000), 413, "file_too_large", marketer)
    assert "1000" in error["message"]


def test_upload_over_the_storage_quota_is_refused_with_413_and_nothing_counted(api, marketer):
    nearly_full = usage.storage_quota_bytes(marketer) - 1000
    get_user_model().objects.filter(pk=marketer.pk).update(storage_used_bytes=nearly_full)
    response = send(api, "me.jpg", image_bytes("JPEG", (600, 600), noise=True, quality=100))
    assert_error(response, 413, "storage_quota_exceeded")
    assert not Portrait.objects.exists() and stored_files() == []
    assert storage_used(marketer) == nearly_full


# --- Refused by the worker's check: the upload says why --------------------------------------------------------
@pytest.mark.parametrize(
    "name, content",
    [("me.jpg", image_bytes("PNG")), ("me.webp", image_bytes("JPEG")), ("me.png", image_bytes("GIF"))],
    ids=["png-as-jpg", "jpeg-as-webp", "gif-as-png"],
)
def test_content_that_does_not_match_its_name_is_refused_as_format_mismatch(api, marketer, name, content):
    assert_check_refuses(api, name, content, "format_mismatch", marketer)


def test_unreadable_image_is_refused(api, marketer):
    assert_check_refuses(api, "me.jpg", b"this is not an image at all" * 10, "unreadable_image", marketer)


def test_truncated_image_is_refused_as_unreadable(api, marketer):
    content = image_bytes("PNG", (600, 600))
    assert_check_refuses(api, "me.png", content[: len(content) // 2], "unreadable_image", marketer)


def test_animated_image_is_refused(api, marketer):
    frames = [Image.new("RGB", (300, 300), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    assert_check_refuses(api, "me.png", buffer.getvalue(), "animated_image", marketer)


def test_image_too_small_is_refused_and_says_its_size(api, marketer):
    error = assert_check_refuses(api, "me.jpg", image_bytes("JPEG", (191, 400)), "image_too_small", marketer)
    assert "191×400" in error["message"]


def test_image_too_large_is_refused(api, marketer):
    assert_check_refuses(api, "me.png", image_bytes("PNG", (4097, 200)), "image_too_large", marketer)


@pytest.mark.slow
def test_decompression_bomb_is_refused(api, marketer):
    bomb = io.BytesIO()
    Image.new("L", (20000, 20000)).save(bomb, format="PNG")
    assert_check_refuses(api, "me.png", bomb.getvalue(), "decompression_bomb", marketer)


# --- Reading -------------------------------------------------------------------------------------------------
def test_list_shows_only_own_portraits_newest_first(api, marketer, rival):
    older = add_portrait(marketer, name="older.png")
    newer = add_portrait(marketer, name="newer.png")
    add_portrait(rival, name="theirs.png")
    response = api.get(URL)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [str(newer.id), str(older.id)]


def test_list_is_empty_for_a_user_with_no_portraits(rival_api, marketer):
    add_portrait(marketer)
    response = rival_api.get(URL)
    assert response.status_code == 200 and response.json() == []


def test_owner_gets_one_portrait(api, marketer):
    portrait = add_portrait(marketer, name="me.png")
    response = api.get(one(portrait.id))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["width"], body["height"]) == (str(portrait.id), "me.png", 400, 500)


def test_rival_gets_404_for_someone_elses_portrait(rival_api, marketer):
    portrait = add_portrait(marketer)
    assert_error(rival_api.get(one(portrait.id)), 404, "not_found")


def test_unknown_portrait_id_is_404(api):
    assert_error(api.get(one(uuid.uuid4())), 404, "not_found")


def test_owner_downloads_the_stored_image(api, marketer):
    portrait = add_portrait(marketer)
    response = api.get(f"{one(portrait.id)}image/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == portrait.file.open().read()


def test_owner_downloads_the_jpeg_thumbnail(api, marketer):
    portrait = add_portrait(marketer)
    response = api.get(f"{one(portrait.id)}thumbnail/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    content = b"".join(response.streaming_content)
    assert content == portrait.thumbnail.open().read()
    assert Image.open(io.BytesIO(content)).format == "JPEG"


@pytest.mark.parametrize("part", ["image/", "thumbnail/"])
def test_rival_gets_404_for_someone_elses_image_and_thumbnail(rival_api, marketer, part):
    portrait = add_portrait(marketer)
    assert_error(rival_api.get(f"{one(portrait.id)}{part}"), 404, "not_found")


# --- Deleting ------------------------------------------------------------------------------------------------
def test_owner_deletes_a_portrait_and_its_files(api, marketer, django_capture_on_commit_callbacks):
    portrait = add_portrait(marketer)
    kept = add_portrait(marketer, name="keep.png")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(one(portrait.id))
    assert response.status_code == 204 and not response.content
    assert not Portrait.objects.filter(id=portrait.id).exists()
    assert not storage_has(portrait.file.name) and not storage_has(portrait.thumbnail.name)
    assert stored_files() == sorted([kept.file.name, kept.thumbnail.name])
    assert storage_used(marketer) == kept.size_bytes
    assert_error(api.get(one(portrait.id)), 404, "not_found")


def test_rival_cannot_delete_someone_elses_portrait(rival_api, marketer, django_capture_on_commit_callbacks):
    portrait = add_portrait(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = rival_api.delete(one(portrait.id))
    assert_error(response, 404, "not_found")
    assert Portrait.objects.filter(id=portrait.id).exists()
    assert storage_has(portrait.file.name) and storage_has(portrait.thumbnail.name)
    assert storage_used(marketer) == portrait.size_bytes
