"""Uploads in parts (the tus protocol the library page's JavaScript speaks): created, sent, cut off, resumed,
checked by a worker, cancelled; owner only."""

import base64
import itertools
import socket
import time
from datetime import timedelta
from http.client import HTTPResponse

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from portal.library.models import AudioClip, Portrait, Upload
from portal.library.upload import receive
from tests.factories import stored_files
from tests.media import audio_bytes, image_bytes

CREATE = reverse("library:uploads")
TUS = {"Tus-Resumable": "1.0.0"}
PART = "application/offset+octet-stream"
MiB = 1024 * 1024  # UPLOAD_PART_MIN_BYTES: every part but the last is at least this


def metadata(**values) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items())


def create(client, name: str, length: int, kind="audio"):
    return client.post(
        CREATE, headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(filename=name, kind=kind)}
    )


def send_part(client, location: str, offset: int, content: bytes):
    return client.patch(location, content, content_type=PART, headers={**TUS, "Upload-Offset": str(offset)})


def offset_of(client, location: str) -> int:
    response = client.head(location, headers=TUS)
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    return int(response["Upload-Offset"])


def wait_for_state(client, location: str, seconds: float = 30.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = client.get(location).json()
        if state["status"] not in ("receiving", "checking"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"still {state['status']} after {seconds} s")


def used(user) -> int:
    user.refresh_from_db()
    return user.storage_used_bytes


def test_a_lecture_sent_in_parts_is_checked_by_a_worker_and_lands_in_the_library(teacher, worker):
    client = Client()
    client.force_login(teacher)
    content = audio_bytes(".wav", seconds=80.0)
    created = create(client, "Lesson 1.wav", len(content))
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    location = created["Location"]
    assert used(teacher) == len(content), "the declared size is held from the start"

    cuts = [0, MiB, 2 * MiB, len(content)]
    for start, end in itertools.pairwise(cuts):
        assert offset_of(client, location) == start
        response = send_part(client, location, start, content[start:end])
        assert response.status_code == 204 and int(response["Upload-Offset"]) == end

    state = wait_for_state(client, location)
    assert state["status"] == "ready", state
    clip = AudioClip.objects.get(id=state["item"])
    assert clip.original_name == "Lesson 1.wav" and clip.file.read() == content
    assert len(clip.waveform) == 200 and max(clip.waveform) == 100
    assert used(teacher) == clip.size_bytes == len(content), "held once, not twice"
    assert stored_files() == [clip.file.name], "the parts are gone"
    page = client.get(reverse("library:index")).content.decode()
    assert "Lesson 1.wav" in page and "upload-state" not in page


def test_a_refused_file_is_reported_with_its_reason_and_nothing_is_kept(teacher, worker):
    client = Client()
    client.force_login(teacher)
    content = image_bytes("PNG", (100, 300))
    location = create(client, "tiny.png", len(content), kind="portrait")["Location"]
    send_part(client, location, 0, content)
    state = wait_for_state(client, location)
    assert state["status"] == "refused" and state["error"]["code"] == "image_too_small"
    assert "100×300" in state["error"]["message"]
    assert not Portrait.objects.exists() and stored_files() == [] and used(teacher) == 0
    page = client.get(reverse("library:index")).content.decode()
    assert 'data-code="image_too_small"' in page and "tiny.png" in page


@pytest.mark.slow
def test_a_part_cut_off_by_a_dropped_connection_is_kept_and_the_upload_goes_on_from_there(teacher, live_server):
    client = Client()
    client.force_login(teacher)
    client.get(reverse("library:index"))  # sets the CSRF cookie a browser would send
    content = audio_bytes(".wav", seconds=80.0)
    location = create(client, "talk.wav", len(content))["Location"]
    cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    headers = (
        f"PATCH {location} HTTP/1.1\r\nHost: {live_server.thread.host}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {PART}\r\nUpload-Offset: 0\r\nContent-Length: {len(content)}\r\n"
        f"X-CSRFToken: {client.cookies['csrftoken'].value}\r\nCookie: {cookies}\r\n\r\n"
    )
    sent = MiB + 300_000
    with socket.create_connection((live_server.thread.host, live_server.thread.port)) as connection:
        connection.sendall(headers.encode() + content[:sent])
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while offset_of(client, location) != sent and time.monotonic() < deadline:
        time.sleep(0.1)
    assert offset_of(client, location) == sent, "what arrived before the connection dropped is kept"

    assert send_part(client, location, 0, content).status_code == 409, "a resend from the start is refused"
    response = send_part(client, location, sent, content[sent:])
    assert response.status_code == 204 and int(response["Upload-Offset"]) == len(content)
    assert Upload.objects.get().status == Upload.Status.CHECKING


@pytest.mark.slow
def test_a_part_cut_off_before_the_minimum_size_is_not_kept(teacher, live_server):
    client = Client()
    client.force_login(teacher)
    client.get(reverse("library:index"))
    content = audio_bytes(".wav", seconds=80.0)
    location = create(client, "talk.wav", len(content))["Location"]
    cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    headers = (
        f"PATCH {location} HTTP/1.1\r\nHost: {live_server.thread.host}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {PART}\r\nUpload-Offset: 0\r\nContent-Length: {len(content)}\r\n"
        f"X-CSRFToken: {client.cookies['csrftoken'].value}\r\nCookie: {cookies}\r\n\r\n"
    )
    with socket.create_connection((live_server.thread.host, live_server.thread.port)) as connection:
        connection.sendall(headers.encode() + content[:200_000])
        time.sleep(0.5)
    time.sleep(0.5)  # the server reads to the end of what was sent, then sees the connection gone
    assert offset_of(client, location) == 0 and stored_files() == [], "200 kB are sent again, not kept as a part"
    response = send_part(client, location, 0, content)
    assert response.status_code == 204 and int(response["Upload-Offset"]) == len(content)


def test_every_part_but_the_last_has_the_minimum_size(owner_client):
    location = create(owner_client, "talk.wav", 3 * MiB)["Location"]
    response = send_part(owner_client, location, 0, b"x" * (MiB - 1))
    assert response.status_code == 400 and response.json()["error"]["code"] == "part_too_small"
    assert offset_of(owner_client, location) == 0 and stored_files() == []
    assert send_part(owner_client, location, 0, b"x" * MiB).status_code == 204
    last = send_part(owner_client, location, MiB, b"x" * (2 * MiB))  # the last part may be any size
    assert last.status_code == 204 and int(last["Upload-Offset"]) == 3 * MiB


@override_settings(UPLOAD_PARTS_MAX=3)
def test_an_upload_has_at_most_so_many_parts_and_the_last_one_may_still_come(owner_client):
    location = create(owner_client, "talk.wav", 4 * MiB)["Location"]
    assert send_part(owner_client, location, 0, b"x" * MiB).status_code == 204
    assert send_part(owner_client, location, MiB, b"x" * MiB).status_code == 204
    refused = send_part(owner_client, location, 2 * MiB, b"x" * MiB)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_many_parts"
    last = send_part(owner_client, location, 2 * MiB, b"x" * (2 * MiB))
    assert last.status_code == 204 and Upload.objects.get().status == Upload.Status.CHECKING
    assert Upload.objects.get().parts.count() == 3 == len(stored_files())


@override_settings(UPLOAD_PART_MIN_BYTES=1)
def test_a_part_costs_the_same_however_many_came_before(owner_client):
    """Each part adds a row of its own: nothing that grows with the parts already there is read or written again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    location = create(owner_client, "talk.wav", 1000)["Location"]
    statements = []
    for offset in range(0, 60, 2):
        with CaptureQueriesContext(connection) as queries:
            assert send_part(owner_client, location, offset, b"xy").status_code == 204
        statements.append(sum(len(query["sql"]) for query in queries.captured_queries))
    assert max(statements[1:]) - min(statements[1:]) < 200, statements  # uuids and numbers vary a little in length
    assert Upload.objects.get().parts.count() == 30


def test_a_part_over_the_limit_is_refused_before_its_body_is_sent(owner_client, live_server):
    owner_client.get(reverse("library:index"))
    location = create(owner_client, "talk.wav", 500 * 1024 * 1024)["Location"]
    cookies = "; ".join(f"{name}={morsel.value}" for name, morsel in owner_client.cookies.items())
    headers = (
        f"PATCH {location} HTTP/1.1\r\nHost: {live_server.thread.host}\r\nTus-Resumable: 1.0.0\r\n"
        f"Content-Type: {PART}\r\nUpload-Offset: 0\r\nContent-Length: {64 * 1024 * 1024}\r\n"
        f"X-CSRFToken: {owner_client.cookies['csrftoken'].value}\r\nCookie: {cookies}\r\n\r\n"
    )
    with socket.create_connection((live_server.thread.host, live_server.thread.port), timeout=10) as connection:
        connection.sendall(headers.encode())  # and not one byte of the 64 MiB it announces
        response = HTTPResponse(connection)
        response.begin()
        assert response.status == 413
        assert b'"request_too_large"' in response.read()  # portal/request_limits.py, before the view
    assert offset_of(owner_client, location) == 0


@pytest.mark.parametrize(
    "name, length, code, status",
    [
        ("notes.txt", 100, "unsupported_type", 400),
        ("talk.wav", 0, "empty_file", 400),
        ("talk.wav", 501 * 1024 * 1024, "file_too_large", 413),
        ("", 100, "no_file", 400),
    ],
)
def test_what_can_be_refused_before_a_byte_is_sent_is(owner_client, owner, name, length, code, status):
    response = create(owner_client, name, length)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert not Upload.objects.exists() and used(owner) == 0


@override_settings(STORAGE_QUOTA_BYTES=1_000_000)
def test_a_file_bigger_than_the_storage_left_is_refused_before_it_is_sent(owner_client, owner):
    response = create(owner_client, "talk.wav", 1_000_001)
    assert response.status_code == 413 and response.json()["error"]["code"] == "storage_quota_exceeded"
    assert create(owner_client, "talk.wav", 600_000).status_code == 201
    assert create(owner_client, "more.wav", 600_000).status_code == 413, "what is arriving counts"


@override_settings(UPLOADS_UNFINISHED_MAX=2)
def test_unfinished_uploads_are_limited(owner_client):
    assert create(owner_client, "a.wav", 1000).status_code == 201
    assert create(owner_client, "b.wav", 1000).status_code == 201
    response = create(owner_client, "c.wav", 1000)
    assert response.status_code == 429 and response.json()["error"]["code"] == "too_many_uploads"


def test_protocol_errors_are_clear(owner_client):
    response = owner_client.post(
        CREATE, headers={"Upload-Length": "10", "Upload-Metadata": metadata(filename="a.wav", kind="audio")}
    )
    assert response.status_code == 412 and response.json()["error"]["code"] == "unsupported_version"
    response = owner_client.post(CREATE, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename !!!"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_metadata"
    response = owner_client.post(
        CREATE, headers={**TUS, "Upload-Length": "ten", "Upload-Metadata": metadata(filename="a.wav", kind="audio")}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_header"
    response = create(owner_client, "a.wav", 10, kind="video")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_kind"
    location = create(owner_client, "a.wav", 10)["Location"]
    assert (
        owner_client.patch(
            location, b"12345", content_type="text/plain", headers={**TUS, "Upload-Offset": "0"}
        ).status_code
        == 415
    )
    response = send_part(owner_client, location, 0, b"x" * 11)
    assert response.status_code == 413 and response.json()["error"]["code"] == "upload_too_long"
    options = owner_client.options(CREATE)
    assert options["Tus-Version"] == "1.0.0" and "creation" in options["Tus-Extension"]


def test_cancelling_deletes_the_parts_and_gives_the_storage_back(
    owner_client, owner, django_capture_on_commit_callbacks
):
    content = audio_bytes(".wav", seconds=80.0)
    location = create(owner_client, "talk.wav", len(content))["Location"]
    assert send_part(owner_client, location, 0, content[:MiB]).status_code == 204
    assert len(stored_files()) == 1 and used(owner) == len(content)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(location, headers=TUS).status_code == 204
    assert stored_files() == [] and used(owner) == 0 and not Upload.objects.exists()


def test_an_upload_that_has_arrived_cannot_be_cancelled_while_it_is_checked(owner_client, owner):
    content = audio_bytes(".wav", seconds=2.0)
    location = create(owner_client, "talk.wav", len(content))["Location"]
    send_part(owner_client, location, 0, content)
    response = owner_client.delete(location, headers=TUS)
    assert response.status_code == 409 and response.json()["error"]["code"] == "upload_arrived"
    assert Upload.objects.get().status == Upload.Status.CHECKING


def test_an_unfinished_upload_goes_with_its_owners_account(owner_client, owner, django_capture_on_commit_callbacks):
    location = create(owner_client, "talk.wav", 2 * MiB)["Location"]
    assert send_part(owner_client, location, 0, b"x" * MiB).status_code == 204
    assert len(stored_files()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        owner.delete()
    assert stored_files() == []


def test_an_outsider_cannot_see_send_to_or_cancel_someone_elses_upload(owner_client, outsider_client, owner):
    content = audio_bytes(".wav", seconds=2.0)
    location = create(owner_client, "talk.wav", len(content))["Location"]
    upload = Upload.objects.get()
    assert outsider_client.get(location).status_code == 404
    assert outsider_client.head(location, headers=TUS).status_code == 404
    assert send_part(outsider_client, location, 0, content).status_code == 404
    assert outsider_client.delete(location, headers=TUS).status_code == 404
    assert outsider_client.post(reverse("library:dismiss_upload", args=[upload.id])).status_code == 404
    guessed = reverse("library:upload", args=["00000000-0000-4000-8000-000000000000"])
    assert owner_client.get(guessed).status_code == 404
    upload.refresh_from_db()
    assert upload.received == 0 and upload.status == Upload.Status.RECEIVING


def test_a_part_without_the_csrf_token_is_refused(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    location = reverse("library:upload", args=[receive.start(owner, "audio", "a.wav", 10).id])
    assert send_part(client, location, 0, b"0123456789").status_code == 403
    assert create(client, "b.wav", 10).status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    assert create(client, "a.wav", 10).status_code == 302


def test_upkeep_resends_lost_checks_gives_up_on_stuck_ones_and_forgets_abandoned_uploads(owner, transactional_db):
    import dramatiq

    from portal.queue import UPLOAD_CHECK_QUEUE as CHECK_QUEUE

    abandoned = receive.start(owner, "audio", "abandoned.wav", 1000)
    stuck = receive.start(owner, "audio", "stuck.wav", 1000)
    lost = receive.start(owner, "audio", "lost.wav", 1000)
    now = timezone.now()
    Upload.objects.filter(pk=abandoned.pk).update(updated_at=now - timedelta(hours=25))
    Upload.objects.filter(pk=stuck.pk).update(status="checking", updated_at=now - timedelta(hours=2))
    Upload.objects.filter(pk=lost.pk).update(status="checking", updated_at=now - timedelta(minutes=20))
    assert used(owner) == 3000

    call_command("jobs_maintenance")

    assert not Upload.objects.filter(pk=abandoned.pk).exists()
    stuck.refresh_from_db()
    assert stuck.status == "refused" and stuck.error_code == "check_failed"
    broker = dramatiq.get_broker()
    assert broker.client.llen(f"{broker.namespace}:{CHECK_QUEUE}") == 1, "the lost check is sent again"
    assert used(owner) == 1000, "only the upload still being checked holds storage"


def test_storage_audit_knows_the_parts_of_unfinished_uploads(owner_client):
    location = create(owner_client, "talk.wav", 2 * MiB)["Location"]
    assert send_part(owner_client, location, 0, b"x" * MiB).status_code == 204
    call_command("storage_audit", "--grace-minutes", "0")  # raises CommandError when a file has no row
