"""Switching media to S3-compatible storage is a settings change only (moto's S3 server stands in for S3)."""

import urllib.request

import boto3
import pytest
from django.test import override_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer

from portal.library.models import Portrait
from tests.library_helpers import send_whole
from tests.media import audio_bytes, image_bytes, upload

BUCKET = "sonic-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint):
    options = {
        "bucket_name": BUCKET,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        "access_key": "test",
        "secret_key": "test",
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
    storages = {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    with override_settings(STORAGES=storages):
        yield s3
    for key in keys(s3):
        s3.delete_object(Bucket=BUCKET, Key=key)


def keys(s3):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_upload_view_and_delete_through_s3(owner_client, owner, s3_storage, django_capture_on_commit_callbacks):
    content = image_bytes("PNG")
    sent = send_whole(owner_client, reverse("library:upload_portrait"), "me.png", content)
    assert sent.status == "ready"
    portrait = Portrait.objects.get(id=sent.item_id)
    # The part it arrived in went once the portrait was stored.
    assert keys(s3_storage) == sorted([portrait.file.name, portrait.thumbnail.name])
    assert all(key.startswith(f"users/{owner.storage_prefix}/") for key in keys(s3_storage))

    # The view checks ownership, then sends the browser to a short-lived presigned URL.
    response = owner_client.get(reverse("library:portrait_image", args=[portrait.id]))
    assert response.status_code == 302 and "Signature=" in response.url and "Expires=" in response.url
    with urllib.request.urlopen(response.url) as fetched:
        assert fetched.headers["Content-Type"] == "image/png"
        assert fetched.read() == portrait.file.open().read()

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("library:delete_portrait", args=[portrait.id]))
    assert keys(s3_storage) == []


def test_outsider_gets_404_not_a_presigned_url(outsider_client, owner, s3_storage):
    from portal.library.upload import store

    portrait = store.add_portrait(owner, upload("me.png", image_bytes("PNG")))
    response = outsider_client.get(reverse("library:portrait_image", args=[portrait.id]))
    assert response.status_code == 404


def test_audio_is_stored_in_s3_and_played_through_a_presigned_url(owner_client, owner, s3_storage):
    content = audio_bytes(".mp3")
    sent = send_whole(owner_client, reverse("library:upload_audio"), "talk.mp3", content)
    assert sent.status == "ready"
    (key,) = keys(s3_storage)
    assert key.startswith(f"users/{owner.storage_prefix}/audio/") and key.endswith(".mp3")
    redirect = owner_client.get(reverse("library:audio_file", args=[sent.item_id]))
    with urllib.request.urlopen(redirect.url) as fetched:
        assert fetched.headers["Content-Type"] == "audio/mpeg"
        assert fetched.read() == content
