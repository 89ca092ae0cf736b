"""Files built to hurt: audio that is small but decodes for a long time, images that declare more pixels than they
hold, polyglots that are also HTML, zero-byte files. Uploads, through the web pages and the REST API alike, are only
stored in the request; the decoding, and so the cost of a hostile file, is a worker's, which stops at the limit and
says why."""

import io

import av
import numpy as np
import pytest
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from portal.library.models import AudioClip, Portrait, Upload
from tests.library_helpers import run_check, send_whole
from tests.media import image_bytes, upload


def constant_flac(seconds: float, rate: int = 8000) -> bytes:
    """A level that never changes: FLAC stores it in a few bytes a frame, so a small file decodes for long."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as output:
        stream = output.add_stream("flac", rate=rate, layout="mono")
        block = np.full((1, 4096), 8000, np.int16)
        for start in range(0, int(seconds * rate), 4096):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


@override_settings(AUDIO_MAX_SECONDS=600)
def test_audio_that_decodes_for_long_costs_the_request_nothing_and_the_worker_stops_at_the_limit(owner_client):
    content = constant_flac(seconds=1800)  # half an hour in a few hundred kB
    assert len(content) < 1_000_000
    response = owner_client.post(
        reverse("library:upload_audio"), {"file": upload("loop.flac", content)}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 202 and response.json()["status"] == "checking", "stored, not decoded, here"
    upload_id = response.json()["id"]
    run_check(upload_id)
    state = owner_client.get(response["Location"]).json()
    assert state["status"] == "refused" and state["error"]["code"] == "audio_too_long"
    assert not AudioClip.objects.exists()


@override_settings(AUDIO_MAX_SECONDS=600)
def test_audio_that_decodes_for_long_sent_through_the_api_is_only_stored_in_the_request(owner):
    """The REST API takes the same path: 202 and a check on the `uploads` queue, never a decode in the request."""
    from billing.models import BillingAccount
    from portal.api import keys
    from tests.api.conftest import key_client

    BillingAccount.objects.create(user=owner, plan_override="pro")
    api = key_client(keys.create(owner, "script")[1])
    response = api.post(
        "/api/v1/audio/", {"file": upload("loop.flac", constant_flac(seconds=1800))}, format="multipart"
    )
    assert response.status_code == 202 and response.json()["status"] == "checking", "stored, not decoded, here"
    run_check(response.json()["id"])
    state = api.get(response["Location"]).json()
    assert state["status"] == "refused" and state["error"]["code"] == "audio_too_long"
    assert not AudioClip.objects.exists()


@pytest.mark.slow
def test_an_image_that_declares_a_billion_pixels_is_refused_without_decoding(owner_client):
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000)).save(bomb, format="PNG")
    sent = send_whole(owner_client, reverse("library:upload_portrait"), "bomb.png", bomb.getvalue())
    assert sent.status == "refused" and sent.error["code"] in ("decompression_bomb", "image_too_large")


def test_a_picture_that_is_also_a_web_page_is_stored_as_a_picture_only(owner_client):
    polyglot = image_bytes("PNG") + b"<html><script>alert(document.cookie)</script></html>"
    sent = send_whole(owner_client, reverse("library:upload_portrait"), "me.png", polyglot)
    assert sent.status == "ready"
    portrait = Portrait.objects.get(id=sent.item_id)
    assert b"<script>" not in portrait.file.read() and b"<script>" not in portrait.thumbnail.read()
    response = owner_client.get(reverse("library:portrait_image", args=[portrait.id]))
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"


def test_a_web_page_named_like_audio_is_refused(owner_client):
    sent = send_whole(
        owner_client, reverse("library:upload_audio"), "talk.mp3", b"<html><script>alert(1)</script></html>" * 50
    )
    assert sent.status == "refused" and sent.error["code"] == "unreadable_audio"


def test_zero_byte_files_are_refused_before_they_are_stored(owner_client):
    for url, name in ((reverse("library:upload_audio"), "talk.wav"), (reverse("library:upload_portrait"), "me.png")):
        sent = send_whole(owner_client, url, name, b"")
        assert sent.http_status == 400 and sent.error["code"] == "empty_file"
    assert not Upload.objects.exists()
