"""Download links are capabilities: tampered, expired, cross-job and guessed ones are refused; a link reveals
nothing of the job or of where its file is stored, and works the same after SECRET_KEY is rotated."""

import base64
import re
import time
import zlib

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from portal import storage
from portal.jobs import services
from tests.jobs_helpers import finished_job


def token_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def decodings(token: str) -> list[bytes]:
    """What anyone holding the token can read out of it: its pieces as base64, and those inflated if they are zlib."""
    found = [token.encode()]
    for piece in re.split(r"[.:]", token):
        try:
            raw = base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4))
        except ValueError:
            continue
        found.append(raw)
        try:
            found.append(zlib.decompress(raw))
        except zlib.error:
            pass
    return found


def test_a_link_reveals_nothing_of_the_job_or_the_storage(owner):
    job = finished_job(owner)
    token = token_of(storage.download_path(job, job.output.name))
    for readable in decodings(token):
        for secret in (str(job.id), job.id.hex, str(owner.storage_prefix), "users/", "renders", ".mp4"):
            assert secret.encode() not in readable, secret
        assert job.id.bytes not in readable and owner.storage_prefix.bytes not in readable


def test_a_tampered_link_is_refused(owner):
    job = finished_job(owner)
    token = token_of(storage.download_path(job, job.output.name))
    for position in (10, len(token) // 2, len(token) - 5):
        swapped = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
        assert Client().get(reverse("jobs:download", args=[swapped])).status_code == 403


@pytest.mark.slow
def test_an_expired_link_is_gone(owner, settings):
    job = finished_job(owner)
    path = storage.download_path(job, job.output.name)
    settings.DOWNLOAD_LINK_SECONDS = 0
    time.sleep(1.1)
    assert Client().get(path).status_code == 410


def test_a_link_for_one_job_opens_nothing_of_another(owner, outsider):
    mine, theirs = finished_job(owner), finished_job(outsider)
    # A link made for someone else's file but carrying my job: the grant names both, and they must match.
    forged = storage.sign_download(mine.id, theirs.output.name)
    assert Client().get(reverse("jobs:download", args=[forged])).status_code == 410
    assert Client().get(reverse("jobs:download", args=["A" * 120])).status_code == 403


def test_links_survive_a_secret_key_rotation(owner, settings):
    job = finished_job(owner)
    path = storage.download_path(job, job.output.name)
    with override_settings(SECRET_KEY="a-new-secret-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert Client().get(path).status_code == 200
    with override_settings(SECRET_KEY="a-new-secret-key-" + "x" * 40, SECRET_KEY_FALLBACKS=[]):
        assert Client().get(path).status_code == 403


@pytest.mark.parametrize("token", ["", ".", "..", "%2e%2e", "a/../../etc/passwd", "\\x00", "é"])
def test_odd_tokens_are_refused_not_500(token):
    response = Client().get(f"/jobs/download/{token}/")
    assert response.status_code in (403, 404)


def test_a_captured_link_replayed_after_the_video_was_deleted_opens_nothing(owner, django_capture_on_commit_callbacks):
    job = finished_job(owner)
    path = storage.download_path(job, job.output.name)
    assert Client().get(path).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        services.delete(job)
    replayed = Client().get(path)
    assert replayed.status_code in (404, 410) and not getattr(replayed, "streaming", False)
