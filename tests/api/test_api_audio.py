"""/api/v1/audio/: upload (stored at once, then decoded and measured by a worker), the same refusals as the web
page, owner-only access and Range."""

import io
import struct
import uuid
import wave

import pytest
from django.contrib.auth import get_user_model

from portal.library import usage
from portal.library.models import AudioClip
from tests.api.conftest import assert_check_refused, assert_error, assert_upload_refused, send_checked, storage_used
from tests.factories import FIXTURES, storage_has, stored_files
from tests.library_helpers import add_audio
from tests.media import audio_bytes, image_bytes, upload

URL = "/api/v1/audio/"


def one(audio_id) -> str:
    return f"{URL}{audio_id}/"


def send(client, name: str, content: bytes):
    return client.post(URL, {"file": upload(name, content)}, format="multipart")


def checked(client, name: str, content: bytes) -> dict:
    return send_checked(client, URL, name, content)


def assert_refused(response, status: int, code: str, user, field: str | None = None) -> dict:
    return assert_upload_refused(response, status, code, user, AudioClip, field)


def assert_check_refuses(client, name: str, content: bytes, code: str, user) -> dict:
    return assert_check_refused(checked(client, name, content), code, user, AudioClip)


# --- Upload ---------------------------------------------------------------------------------------------------
def test_upload_is_accepted_for_checking_and_then_in_the_library_with_its_measured_duration(api, marketer):
    content = audio_bytes(".mp3", seconds=3.0)
    state = checked(api, "voice-over.mp3", content)
    assert (state["status"], state["kind"], state["name"], state["size_bytes"]) == (
        "ready",
        "audio",
        "voice-over.mp3",
        len(content),
    )
    assert state["error"] is None and state["portrait"] is None
    body = state["audio"]
    clip = AudioClip.objects.get(id=body["id"], owner=marketer)
    assert body["name"] == "voice-over.mp3"
    assert body["duration_seconds"] == pytest.approx(3.0, abs=0.06)
    assert (body["content_type"], body["sample_rate"], body["channels"]) == ("audio/mpeg", 44100, 1)
    assert body["size_bytes"] == len(content) == storage_used(marketer)
    assert body["file_url"].endswith(f"{one(clip.id)}file/")
    assert clip.file.read() == content, "the recording is kept byte for byte"
    assert stored_files() == [clip.file.name], "the received part is gone once the clip is stored"


def test_the_request_stores_the_file_without_decoding_it(api, marketer):
    response = send(api, "talk.wav", audio_bytes(".wav", seconds=2.0))
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["audio"], body["error"]) == ("checking", None, None)
    assert not AudioClip.objects.exists(), "not in the library until a worker has decoded it"
    assert storage_used(marketer) == body["size_bytes"], "its size is held against the quota meanwhile"
    polled = api.get(response["Location"])
    assert polled.json()["status"] == "checking" and polled["Retry-After"] == "2"


def test_committed_speech_fixture_is_accepted_with_its_sample_rate(api):
    clip = checked(api, "speech.wav", (FIXTURES / "speech.wav").read_bytes())["audio"]
    assert clip["sample_rate"] == 16000 and clip["duration_seconds"] > 3


def test_duration_comes_from_decoding_not_from_a_lying_wav_header(api):
    content = bytearray(audio_bytes(".wav", seconds=2.0))
    data_chunk = content.index(b"data")
    content[data_chunk + 4 : data_chunk + 8] = struct.pack("<I", 16000 * 2 * 600)  # claims 10 minutes
    assert checked(api, "talk.wav", bytes(content))["audio"]["duration_seconds"] == pytest.approx(2.0, abs=0.01)


def test_the_ready_upload_names_the_same_clip_as_its_own_url(api):
    state = checked(api, "talk.wav", audio_bytes(".wav"))
    fetched = api.get(one(state["audio"]["id"]))
    assert fetched.status_code == 200 and fetched.json() == state["audio"]


# --- Refused at the door, before anything is stored: the web page's codes, in the API's error shape ---------
def test_no_file_is_refused_with_field_file(api, marketer):
    assert_refused(api.post(URL, {}, format="multipart"), 400, "no_file", marketer, field="file")


def test_empty_file_is_refused(api, marketer):
    assert_refused(send(api, "talk.wav", b""), 400, "empty_file", marketer)


def test_unsupported_type_is_refused(api, marketer):
    assert_refused(send(api, "talk.wma", audio_bytes(".wav")), 400, "unsupported_type", marketer)


def test_file_over_the_size_limit_is_refused_with_413(api, marketer, settings):
    settings.AUDIO_MAX_BYTES = 10_000
    assert_refused(send(api, "talk.wav", audio_bytes(".wav", seconds=2.0)), 413, "file_too_large", marketer)


def test_upload_over_the_storage_quota_is_refused_with_413_and_nothing_counted(api, marketer):
    nearly_full = usage.storage_quota_bytes(marketer) - 1000
    get_user_model().objects.filter(pk=marketer.pk).update(storage_used_bytes=nearly_full)
    response = send(api, "talk.wav", audio_bytes(".wav", seconds=2.0))
    assert_error(response, 413, "storage_quota_exceeded")
    assert not AudioClip.objects.exists() and stored_files() == []
    assert storage_used(marketer) == nearly_full


def test_too_many_files_waiting_for_their_check_is_429(api, marketer, settings):
    settings.UPLOADS_CHECKING_MAX = 2
    for n in range(2):
        assert send(api, f"talk{n}.wav", audio_bytes(".wav")).status_code == 202
    error = assert_error(send(api, "talk2.wav", audio_bytes(".wav")), 429, "too_many_uploads")
    assert "2" in error["message"]
    assert len(stored_files()) == 2


# --- Refused by the worker's check: the upload says why --------------------------------------------------------
def test_mp3_named_wav_is_refused_as_format_mismatch_saying_what_it_is(api, marketer):
    error = assert_check_refuses(api, "talk.wav", audio_bytes(".mp3"), "format_mismatch", marketer)
    assert "MP3" in error["message"]


def test_unreadable_audio_is_refused(api, marketer):
    assert_check_refuses(api, "talk.mp3", bytes(range(256)) * 40, "unreadable_audio", marketer)


def test_image_named_mp3_is_refused(api, marketer):
    state = checked(api, "talk.mp3", image_bytes("JPEG"))
    assert state["error"]["code"] in {"format_mismatch", "unreadable_audio", "not_audio"}
    assert_check_refused(state, state["error"]["code"], marketer, AudioClip)


def test_video_file_is_refused_as_not_audio(api, marketer):
    assert_check_refuses(api, "talk.m4a", audio_bytes(".m4a", with_video=True), "not_audio", marketer)


def test_wav_without_samples_is_refused_as_empty_audio(api, marketer):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as header_only:
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(16000)
    assert_check_refuses(api, "talk.wav", buffer.getvalue(), "empty_audio", marketer)


def test_silent_audio_is_refused(api, marketer):
    assert_check_refuses(api, "talk.flac", audio_bytes(".flac", amplitude=0.0), "silent_audio", marketer)


def test_audio_too_long_is_refused_and_says_the_limit(api, marketer, settings):
    settings.AUDIO_MAX_SECONDS = 2.5
    error = assert_check_refuses(api, "talk.mp3", audio_bytes(".mp3", seconds=3.0), "audio_too_long", marketer)
    assert "2.5 s" in error["message"]


def test_audio_too_short_is_refused(api, marketer):
    assert_check_refuses(api, "talk.wav", audio_bytes(".wav", seconds=0.1), "audio_too_short", marketer)


# --- Reading -------------------------------------------------------------------------------------------------
def test_list_shows_only_own_clips_newest_first(api, marketer, rival):
    older = add_audio(marketer, name="older.wav")
    newer = add_audio(marketer, name="newer.wav")
    add_audio(rival, name="theirs.wav")
    response = api.get(URL)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [str(newer.id), str(older.id)]


def test_owner_gets_one_clip_with_its_duration(api, marketer):
    clip = add_audio(marketer, name="talk.wav", seconds=2.0)
    response = api.get(one(clip.id))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"]) == (str(clip.id), "talk.wav")
    assert body["duration_seconds"] == pytest.approx(2.0, abs=0.01)


def test_rival_gets_404_for_someone_elses_clip(rival_api, marketer):
    clip = add_audio(marketer)
    assert_error(rival_api.get(one(clip.id)), 404, "not_found")


def test_unknown_clip_id_is_404(api):
    assert_error(api.get(one(uuid.uuid4())), 404, "not_found")


def test_owner_downloads_the_recording(api, marketer):
    clip = add_audio(marketer)
    response = api.get(f"{one(clip.id)}file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == clip.file.open().read()


def test_range_request_answers_206_with_just_those_bytes(api, marketer):
    clip = add_audio(marketer)
    original = clip.file.open().read()
    response = api.get(f"{one(clip.id)}file/", headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(original)}"
    assert response["Content-Length"] == "100"
    assert b"".join(response.streaming_content) == original[100:200]


def test_range_past_the_end_is_416(api, marketer):
    clip = add_audio(marketer)
    size = clip.file.size
    response = api.get(f"{one(clip.id)}file/", headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"


def test_rival_gets_404_for_someone_elses_recording_even_with_a_range(rival_api, marketer):
    clip = add_audio(marketer)
    assert_error(rival_api.get(f"{one(clip.id)}file/"), 404, "not_found")
    assert_error(rival_api.get(f"{one(clip.id)}file/", headers={"Range": "bytes=0-10"}), 404, "not_found")


# --- Deleting ------------------------------------------------------------------------------------------------
def test_owner_deletes_a_clip_and_its_file(api, marketer, django_capture_on_commit_callbacks):
    clip = add_audio(marketer)
    kept = add_audio(marketer, name="keep.wav")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(one(clip.id))
    assert response.status_code == 204 and not response.content
    assert not AudioClip.objects.filter(id=clip.id).exists()
    assert not storage_has(clip.file.name)
    assert stored_files() == [kept.file.name]
    assert storage_used(marketer) == kept.size_bytes
    assert_error(api.get(one(clip.id)), 404, "not_found")


def test_rival_cannot_delete_someone_elses_clip(rival_api, marketer, django_capture_on_commit_callbacks):
    clip = add_audio(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = rival_api.delete(one(clip.id))
    assert_error(response, 404, "not_found")
    assert AudioClip.objects.filter(id=clip.id).exists() and storage_has(clip.file.name)
    assert storage_used(marketer) == clip.size_bytes
