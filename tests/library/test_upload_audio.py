import io
import struct
import wave

import pytest
from django.test import override_settings
from django.urls import reverse

from portal.library.models import AudioClip
from tests.factories import FIXTURES, stored_files
from tests.library_helpers import assert_refused_and_nothing_kept, send_whole
from tests.media import audio_bytes, image_bytes, upload

URL = reverse("library:upload_audio")


def post(client, name, content):
    return send_whole(client, URL, name, content)


def assert_rejected(sent, code, owner, status=None):
    assert_refused_and_nothing_kept(sent, code, owner, AudioClip, status)


@pytest.mark.parametrize(
    "extension, content_type",
    [
        (".wav", "audio/wav"),
        (".mp3", "audio/mpeg"),
        (".m4a", "audio/mp4"),
        (".aac", "audio/aac"),
        (".ogg", "audio/ogg"),
        (".opus", "audio/ogg"),
        (".flac", "audio/flac"),
        (".webm", "audio/webm"),
    ],
)
def test_owner_uploads_each_format_and_duration_is_measured(owner_client, owner, extension, content_type):
    content = audio_bytes(extension, seconds=3.0)
    response = post(owner_client, f"lecture{extension}", content)
    assert response.status == "ready", response
    clip = AudioClip.objects.get(id=response.item_id)
    # AAC and Opus add encoder priming samples; the measured duration stays within 60 ms of the truth.
    assert clip.duration_seconds == pytest.approx(3.0, abs=0.06)
    assert clip.content_type == content_type
    assert clip.file.name.startswith(f"users/{owner.storage_prefix}/audio/")
    assert clip.file.read() == content, "the original recording is kept byte for byte"
    owner.refresh_from_db()
    assert owner.storage_used_bytes == len(content) == clip.size_bytes


def test_committed_speech_fixture(owner_client):
    response = post(owner_client, "speech.wav", (FIXTURES / "speech.wav").read_bytes())
    clip = AudioClip.objects.get(id=response.item_id)
    assert clip.sample_rate == 16000 and clip.duration_seconds > 3


def test_duration_claimed_by_the_client_is_ignored(owner_client):
    response = send_whole(owner_client, URL, "a.wav", audio_bytes(".wav", seconds=2.0), duration_seconds="9999")
    assert AudioClip.objects.get(id=response.item_id).duration_seconds == pytest.approx(2.0, abs=0.01)


def test_wav_header_lying_about_length_is_measured_by_decoding(owner_client):
    content = bytearray(audio_bytes(".wav", seconds=2.0))
    data_chunk = content.index(b"data")
    content[data_chunk + 4 : data_chunk + 8] = struct.pack("<I", 16000 * 2 * 600)  # claims 10 minutes
    response = post(owner_client, "a.wav", bytes(content))
    assert AudioClip.objects.get(id=response.item_id).duration_seconds == pytest.approx(2.0, abs=0.01)


def test_unsupported_type(owner_client, owner):
    assert_rejected(post(owner_client, "talk.wma", audio_bytes(".wav")), "unsupported_type", owner)


@pytest.mark.parametrize(
    "name, content",
    [
        ("talk.wav", audio_bytes(".mp3")),
        ("talk.mp3", audio_bytes(".flac")),
        ("talk.m4a", audio_bytes(".webm")),
        ("talk.mp3", image_bytes("JPEG")),
    ],
    ids=["mp3-as-wav", "flac-as-mp3", "webm-as-m4a", "jpeg-as-mp3"],
)
def test_wrong_extension_or_disguised_content(owner_client, owner, name, content):
    response = post(owner_client, name, content)
    assert response.error["code"] in {"format_mismatch", "unreadable_audio", "not_audio"}
    assert_rejected(response, response.error["code"], owner)


def test_mp3_named_wav_says_what_it_really_is(owner_client, owner):
    response = post(owner_client, "talk.wav", audio_bytes(".mp3"))
    assert_rejected(response, "format_mismatch", owner)
    assert "MP3" in response.error["message"]


def test_unreadable_audio(owner_client, owner):
    assert_rejected(post(owner_client, "talk.mp3", bytes(range(256)) * 40), "unreadable_audio", owner)


def test_video_file_is_not_audio(owner_client, owner):
    assert_rejected(post(owner_client, "talk.m4a", audio_bytes(".m4a", with_video=True)), "not_audio", owner)


def test_empty_file(owner_client, owner):
    assert_rejected(post(owner_client, "talk.wav", b""), "empty_file", owner)


def test_wav_without_samples(owner_client, owner):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as header_only:
        header_only.setnchannels(1), header_only.setsampwidth(2), header_only.setframerate(16000)
    assert len(buffer.getvalue()) == 44
    header_only = buffer.getvalue()
    assert_rejected(post(owner_client, "talk.wav", header_only), "empty_audio", owner)


def test_silent_audio(owner_client, owner):
    assert_rejected(post(owner_client, "talk.flac", audio_bytes(".flac", amplitude=0.0)), "silent_audio", owner)


def test_quiet_speech_is_not_silence(owner_client):
    assert post(owner_client, "talk.wav", audio_bytes(".wav", amplitude=0.01)).status == "ready"


@override_settings(AUDIO_MAX_SECONDS=2.5)
def test_audio_too_long(owner_client, owner):
    response = post(owner_client, "talk.mp3", audio_bytes(".mp3", seconds=3.0))
    assert_rejected(response, "audio_too_long", owner)
    assert "2.5 s" in response.error["message"]


def test_audio_too_short(owner_client, owner):
    assert_rejected(post(owner_client, "talk.wav", audio_bytes(".wav", seconds=0.1)), "audio_too_short", owner)


@override_settings(AUDIO_MAX_BYTES=10_000)
def test_file_too_large(owner_client, owner):
    assert_rejected(post(owner_client, "talk.wav", audio_bytes(".wav", seconds=2.0)), "file_too_large", owner, 413)


def test_truncated_mp3_keeps_what_decodes_or_refuses_clearly(owner_client):
    content = audio_bytes(".mp3", seconds=3.0)
    response = post(owner_client, "talk.mp3", content[: len(content) // 2])
    if response.status == "ready":
        clip = AudioClip.objects.get(id=response.item_id)
        assert clip.duration_seconds < 2.0, "a cut file must not report its original length"
    else:
        assert response.error["code"] == "unreadable_audio"


def test_anonymous_is_sent_to_login(client):
    response = client.post(URL, {"file": upload("a.wav", audio_bytes(".wav"))})
    assert response.status_code == 302 and reverse("account_login") in response.url
    assert stored_files() == []
