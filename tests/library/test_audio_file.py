from django.urls import reverse

from tests.library_helpers import add_audio


def url(clip):
    return reverse("library:audio_file", args=[clip.id])


def test_owner_streams_the_recording(owner_client, owner):
    clip = add_audio(owner)
    response = owner_client.get(url(clip))
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == clip.file.open().read()


def test_range_request_lets_the_player_seek(owner_client, owner):
    clip = add_audio(owner)
    original = clip.file.open().read()
    response = owner_client.get(url(clip), headers={"Range": "bytes=100-199"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(original)}"
    assert response["Content-Length"] == "100"
    assert b"".join(response.streaming_content) == original[100:200]


def test_open_ended_and_suffix_ranges(owner_client, owner):
    clip = add_audio(owner)
    original = clip.file.open().read()
    tail = owner_client.get(url(clip), headers={"Range": f"bytes={len(original) - 10}-"})
    assert b"".join(tail.streaming_content) == original[-10:]
    suffix = owner_client.get(url(clip), headers={"Range": "bytes=-20"})
    assert suffix.status_code == 206 and b"".join(suffix.streaming_content) == original[-20:]


def test_range_past_the_end_is_416(owner_client, owner):
    clip = add_audio(owner)
    size = clip.file.size
    response = owner_client.get(url(clip), headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"


def test_outsider_gets_404_even_with_a_range(outsider_client, owner):
    clip = add_audio(owner)
    assert outsider_client.get(url(clip)).status_code == 404
    assert outsider_client.get(url(clip), headers={"Range": "bytes=0-10"}).status_code == 404


def test_anonymous_is_sent_to_login(client, owner):
    response = client.get(url(add_audio(owner)))
    assert response.status_code == 302 and reverse("account_login") in response.url
