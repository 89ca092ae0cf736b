"""What an outside probe sent to resumable uploads: thousands of one-byte parts, a flood of part requests to one
upload, and uploads started thirty at a time. Each is refused with its code, nothing is stored for what is
refused, and no race passes a per-account limit (they are counted under a lock on the account's row)."""

import base64

import pytest
from django.test import Client
from django.urls import reverse

from portal.api import keys
from portal.library.models import Upload
from tests.api.conftest import key_client, pro_user
from tests.concurrency import at_once
from tests.factories import stored_files
from tests.media import audio_bytes, upload

TUS = {"Tus-Resumable": "1.0.0"}
PART = "application/offset+octet-stream"
MiB = 1024 * 1024


def create(client, name: str, length: int):
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in {"filename": name, "kind": "audio"}.items()
    )
    return client.post(
        reverse("library:uploads"), headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata}
    )


def send_part(client, location: str, offset: int, content: bytes):
    return client.patch(location, content, content_type=PART, headers={**TUS, "Upload-Offset": str(offset)})


def test_one_byte_parts_are_refused_and_nothing_is_stored(owner_client, fresh_window):
    location = create(owner_client, "talk.wav", 3 * MiB)["Location"]
    answers = {send_part(owner_client, location, offset, b"x").status_code for offset in [0] * 200}
    refused = send_part(owner_client, location, 0, b"x")
    assert answers == {400} and refused.json()["error"]["code"] == "part_too_small"
    assert stored_files() == [] and Upload.objects.get().parts.count() == 0
    assert int(owner_client.head(location, headers=TUS)["Upload-Offset"]) == 0


@pytest.mark.slow
def test_part_requests_to_one_upload_are_limited_per_minute(owner_client, settings, fresh_window):
    flooded = create(owner_client, "talk.wav", 3 * MiB)["Location"]
    for _ in range(settings.UPLOAD_PART_REQUESTS_PER_MINUTE):
        assert send_part(owner_client, flooded, 0, b"x").status_code == 400  # counted, refused or not
    refused = send_part(owner_client, flooded, 0, b"x" * MiB)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60 and refused["Tus-Resumable"] == "1.0.0"
    assert stored_files() == []
    other = create(owner_client, "other.wav", 2 * MiB)["Location"]
    assert send_part(owner_client, other, 0, b"x" * MiB).status_code == 204, "each upload has its own count"


@pytest.fixture
def signed_in_clients(owner, transactional_db):
    """Clients of one account, each sending from its own thread."""

    def make(count: int) -> list[Client]:
        clients = [Client() for _ in range(count)]
        for client in clients:
            client.force_login(owner)
        return clients

    return make


@pytest.mark.slow
def test_thirty_uploads_started_at_once_stop_at_the_unfinished_limit(owner, signed_in_clients, settings):
    answers = at_once([lambda client=client: create(client, "talk.wav", 1000) for client in signed_in_clients(30)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * settings.UPLOADS_UNFINISHED_MAX + [429] * (30 - settings.UPLOADS_UNFINISHED_MAX)
    assert {answer.json()["error"]["code"] for answer in answers if answer.status_code == 429} == {"too_many_uploads"}
    assert Upload.objects.count() == settings.UPLOADS_UNFINISHED_MAX
    owner.refresh_from_db()
    assert owner.storage_used_bytes == 1000 * settings.UPLOADS_UNFINISHED_MAX, "refused ones hold no storage"


def test_twenty_files_sent_at_once_stop_at_the_checking_limit(transactional_db, settings):
    settings.UPLOADS_CHECKING_MAX = 3
    marketer = pro_user("marketer@example.com")
    content = audio_bytes(".wav", seconds=1.0)
    clients = [key_client(keys.create(marketer, f"script {n}")[1]) for n in range(20)]

    def send(client):
        return client.post("/api/v1/audio/", {"file": upload("talk.wav", content)}, format="multipart")

    answers = at_once([lambda client=client: send(client) for client in clients])
    assert sorted(answer.status_code for answer in answers) == [202] * 3 + [429] * 17
    assert Upload.objects.filter(status=Upload.Status.CHECKING).count() == 3
    assert len(stored_files()) == 3, "a refused file is not stored"
