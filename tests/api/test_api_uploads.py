"""/api/v1/uploads/: what became of a file sent to /api/v1/portraits/ or /api/v1/audio/ (checking, ready, refused),
the worker that checks it, dismissing a refusal, and owner-only access."""

import time
import uuid

import pytest

from portal.api import keys
from portal.library.models import AudioClip, Upload
from tests.api.conftest import assert_error, key_client, pro_user, storage_used
from tests.factories import FIXTURES, stored_files
from tests.library_helpers import run_check
from tests.media import audio_bytes, image_bytes, upload

URL = "/api/v1/uploads/"


def one(upload_id) -> str:
    return f"{URL}{upload_id}/"


def post(client, path: str, name: str, content: bytes, **headers):
    response = client.post(path, {"file": upload(name, content)}, format="multipart", **headers)
    assert response.status_code == 202, response.content
    return response.json()


def poll(client, location: str, seconds: float = 30.0) -> dict:
    """As a script polls: until the upload is no longer being checked, waiting as Retry-After says (or less)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get(location)
        if response.json()["status"] != "checking":
            return response.json()
        time.sleep(min(0.1, float(response["Retry-After"])))
    raise AssertionError(f"still checking after {seconds} s")


def test_a_real_worker_checks_what_a_script_sent_and_it_can_be_rendered(transactional_db, worker):
    marketer = pro_user("marketer@example.com")
    api = key_client(keys.create(marketer, "tests")[1])
    sent = [
        api.post(path, {"file": upload(name, (FIXTURES / name).read_bytes())}, format="multipart")
        for path, name in (("/api/v1/portraits/", "portrait.jpg"), ("/api/v1/audio/", "speech.wav"))
    ]
    assert [response.status_code for response in sent] == [202, 202]
    portrait, audio = (poll(api, response["Location"]) for response in sent)
    assert (portrait["status"], audio["status"]) == ("ready", "ready")
    assert portrait["portrait"]["face"]["faces_found"] == 1 and audio["audio"]["duration_seconds"] > 3
    preflight = api.post(
        "/api/v1/preflight/", {"portrait": portrait["portrait"]["id"], "audio": audio["audio"]["id"]}, format="json"
    )
    assert preflight.status_code == 200 and preflight.json()["ok"] is True, preflight.json()


def test_a_refusal_is_in_the_language_the_file_was_sent_in(api, marketer):
    body = post(api, "/api/v1/portraits/", "tiny.png", image_bytes("PNG", (100, 300)), HTTP_ACCEPT_LANGUAGE="zh-CN")
    run_check(body["id"])
    error = api.get(one(body["id"])).json()["error"]
    assert error["code"] == "image_too_small" and "100×300" in error["message"]
    assert any("\u4e00" <= character <= "\u9fff" for character in error["message"]), error


def test_list_shows_only_own_uploads_newest_first_and_filters_by_status(api, marketer, rival_api):
    first = post(api, "/api/v1/audio/", "first.wav", audio_bytes(".wav"))
    second = post(api, "/api/v1/portraits/", "tiny.png", image_bytes("PNG", (100, 300)))
    run_check(second["id"])
    post(rival_api, "/api/v1/audio/", "theirs.wav", audio_bytes(".wav"))
    listed = api.get(URL)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()] == [second["id"], first["id"]]
    assert [item["id"] for item in api.get(URL, {"status": "refused"}).json()] == [second["id"]]
    assert [item["id"] for item in api.get(URL, {"status": "checking"}).json()] == [first["id"]]
    assert_error(api.get(URL, {"status": "lost"}), 400, "invalid_request", field="status")


def test_a_refused_upload_is_dismissed(api, marketer):
    body = post(api, "/api/v1/portraits/", "tiny.png", image_bytes("PNG", (100, 300)))
    run_check(body["id"])
    response = api.delete(one(body["id"]))
    assert response.status_code == 204
    assert not Upload.objects.exists()
    assert_error(api.get(one(body["id"])), 404, "not_found")


@pytest.mark.parametrize("checked", [False, True], ids=["checking", "ready"])
def test_an_upload_that_arrived_whole_is_not_dismissed(api, marketer, checked):
    body = post(api, "/api/v1/audio/", "talk.wav", audio_bytes(".wav"))
    if checked:
        run_check(body["id"])
    assert_error(api.delete(one(body["id"])), 409, "upload_arrived")
    assert Upload.objects.filter(id=body["id"]).exists()
    assert AudioClip.objects.exists() == checked and storage_used(marketer) > 0


def test_rival_gets_404_for_someone_elses_upload_and_cannot_dismiss_it(api, marketer, rival_api):
    body = post(api, "/api/v1/portraits/", "tiny.png", image_bytes("PNG", (100, 300)))
    run_check(body["id"])
    assert_error(rival_api.get(one(body["id"])), 404, "not_found")
    assert_error(rival_api.delete(one(body["id"])), 404, "not_found")
    assert Upload.objects.filter(id=body["id"], status="refused").exists()


def test_unknown_upload_id_is_404(api):
    assert_error(api.get(one(uuid.uuid4())), 404, "not_found")


def test_the_worker_keeps_nothing_of_a_refused_file(api, marketer):
    body = post(api, "/api/v1/audio/", "talk.wav", audio_bytes(".mp3"))
    assert len(stored_files()) == 1 and storage_used(marketer) == body["size_bytes"]
    run_check(body["id"])
    assert api.get(one(body["id"])).json()["error"]["code"] == "format_mismatch"
    assert stored_files() == [] and storage_used(marketer) == 0
