"""Bodies too large for their endpoint are refused on their Content-Length, before a byte of them is read: the
requests below announce hundreds of megabytes and send none, and the answer must come back at once. Anonymous
clients never get more than DATA_UPLOAD_MAX_MEMORY_SIZE, whatever the endpoint."""

import socket
from http.client import HTTPResponse

import pytest
from django.test import Client
from django.urls import reverse

MB = 1024 * 1024


def announce(live_server, method: str, path: str, length: int, cookies: str = "", extra: str = "") -> HTTPResponse:
    """Send only the headers of a request that says it has `length` bytes; the answer, read with a 10 s deadline."""
    headers = (
        f"{method} {path} HTTP/1.1\r\nHost: {live_server.thread.host}\r\nContent-Length: {length}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\n{extra}"
        + (f"Cookie: {cookies}\r\n" if cookies else "")
        + "\r\n"
    )
    connection = socket.create_connection((live_server.thread.host, live_server.thread.port), timeout=10)
    connection.sendall(headers.encode())
    response = HTTPResponse(connection)
    response.begin()
    response.body = response.read()
    connection.close()
    return response


def session_cookies(client: Client) -> str:
    client.get(reverse("library:index"))
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/library/audio/",
        "/library/portraits/",
        "/api/v1/audio/",
        "/billing/stripe/webhook/",
        "/jobs/new/",
        "/i18n/setlang/",
    ],
)
def test_an_anonymous_600_mb_body_is_refused_unread(live_server, path):
    response = announce(live_server, "POST", path, 600 * MB, cookies="csrftoken=" + "a" * 32)
    assert response.status == 413, (path, response.status)


def test_a_signed_in_user_may_send_a_lecture_but_not_more(live_server, owner, settings):
    client = Client()
    client.force_login(owner)
    cookies = session_cookies(client)
    too_big = announce(live_server, "POST", "/library/audio/", settings.AUDIO_MAX_BYTES + MB, cookies)
    assert too_big.status == 413
    portrait = announce(live_server, "POST", "/library/portraits/", settings.PORTRAIT_MAX_BYTES + MB, cookies)
    assert portrait.status == 413
    form = announce(live_server, "POST", "/jobs/new/", 5 * MB, cookies)
    assert form.status == 413, "a form is not a file upload"


def test_a_tus_part_over_its_limit_is_refused_unread(live_server, owner, settings):
    client = Client()
    client.force_login(owner)
    cookies = session_cookies(client)
    response = announce(
        live_server,
        "PATCH",
        "/library/uploads/00000000-0000-4000-8000-000000000000/",
        settings.UPLOAD_PART_MAX_BYTES + 1,
        cookies,
        extra="Tus-Resumable: 1.0.0\r\n",
    )
    assert response.status == 413 and b'"request_too_large"' in response.body


def test_an_api_key_may_upload_a_lecture_sized_body_but_a_bogus_key_reads_nothing(live_server, settings):
    response = announce(
        live_server,
        "POST",
        "/api/v1/audio/",
        settings.AUDIO_MAX_BYTES // 2,
        extra="Authorization: Bearer sk_not_a_key\r\n",
    )
    assert response.status == 401, "the key is checked before the body is read"


def test_zero_byte_and_missing_bodies_get_their_own_refusal(owner_client):
    response = owner_client.post(
        reverse("library:upload_audio"),
        b"",
        content_type="multipart/form-data; boundary=x",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "no_file"
