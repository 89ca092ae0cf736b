"""Idempotency-Key: a retried POST returns the first response and never does the work twice, even when the retries
arrive at the same time (PostgreSQL's unique index makes the second wait for the first)."""

import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from billing.models import Reservation
from portal.api.models import IdempotentRequest
from portal.jobs.models import Job
from portal.library.models import Portrait, Upload
from tests.api.conftest import assert_error, key_client
from tests.factories import FIXTURES
from tests.jobs_helpers import fixture_inputs
from tests.library_helpers import run_check


def job_body(portrait, audio, **options) -> dict:
    return {"portrait": str(portrait.id), "audio": str(audio.id), "options": options}


def test_a_retry_returns_the_first_response_and_makes_no_second_job(api, marketer):
    portrait, audio = fixture_inputs(marketer)
    first = api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    retry = api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry["Location"] == first["Location"]
    assert retry["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Job.objects.count() == 1 and Reservation.objects.count() == 1
    other = api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="order-2")
    assert other.status_code == 201 and Job.objects.count() == 2


def test_the_same_key_with_another_body_is_refused(api, marketer):
    portrait, audio = fixture_inputs(marketer)
    api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="k")
    changed = api.post("/api/v1/jobs/", job_body(portrait, audio, seed=5), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(changed, 422, "idempotency_key_reused", "Idempotency-Key")
    elsewhere = api.post("/api/v1/preflight/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(elsewhere, 422, "idempotency_key_reused")
    assert Job.objects.count() == 1


def test_a_refusal_is_replayed_too(api, marketer):
    portrait, audio = fixture_inputs(marketer)
    request = job_body(portrait, audio, resolution=1440)
    first = api.post("/api/v1/jobs/", request, format="json", HTTP_IDEMPOTENCY_KEY="big")
    assert_error(first, 403, "resolution_not_in_plan")
    again = api.post("/api/v1/jobs/", request, format="json", HTTP_IDEMPOTENCY_KEY="big")
    assert again.status_code == 403 and again["Idempotent-Replayed"] == "true"
    assert again.json()["error"]["code"] == "resolution_not_in_plan"


def test_keys_belong_to_their_user(api, marketer, rival_api, rival):
    mine, theirs = fixture_inputs(marketer), fixture_inputs(rival)
    assert api.post("/api/v1/jobs/", job_body(*mine), format="json", HTTP_IDEMPOTENCY_KEY="1").status_code == 201
    response = rival_api.post("/api/v1/jobs/", job_body(*theirs), format="json", HTTP_IDEMPOTENCY_KEY="1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Job.objects.filter(owner=rival).count() == 1


def test_an_upload_retried_with_its_key_is_stored_once(api, marketer):
    def send():
        with open(FIXTURES / "portrait.jpg", "rb") as image:
            return api.post("/api/v1/portraits/", {"file": image}, format="multipart", HTTP_IDEMPOTENCY_KEY="photo")

    first, retry = send(), send()
    assert first.status_code == retry.status_code == 202 and retry.json()["id"] == first.json()["id"]
    assert retry["Location"] == first["Location"] and retry["Idempotent-Replayed"] == "true"
    assert Upload.objects.filter(owner=marketer).count() == 1
    run_check(first.json()["id"])
    assert Portrait.objects.filter(owner=marketer).count() == 1


def test_keys_are_remembered_for_a_day_then_forgotten(api, marketer):
    portrait, audio = fixture_inputs(marketer)
    api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="daily")
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=23))
    api.post(f"/api/v1/jobs/{Job.objects.get().id}/cancel/")
    assert (
        api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="daily")[
            "Idempotent-Replayed"
        ]
        == "true"
    )
    IdempotentRequest.objects.filter(key="daily").update(created_at=timezone.now() - timedelta(hours=25))
    fresh = api.post("/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="daily")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh
    assert Job.objects.count() == 2


def test_an_overlong_key_is_refused(api):
    assert_error(
        api.post("/api/v1/jobs/", {}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256), 400, "invalid_idempotency_key"
    )


def test_concurrent_retries_make_one_job_and_one_reservation(transactional_db, marketer):
    from portal.api import keys

    _, key = keys.create(marketer, "retries")
    portrait, audio = fixture_inputs(marketer)
    retries = 6
    barrier, responses = threading.Barrier(retries), []

    def retry():
        try:
            client = key_client(key)
            barrier.wait()
            responses.append(
                client.post(
                    "/api/v1/jobs/", job_body(portrait, audio), format="json", HTTP_IDEMPOTENCY_KEY="flaky-network"
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(retries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [r.status_code for r in responses] == [201] * retries
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == retries - 1
    assert Job.objects.count() == 1 and Reservation.objects.count() == 1
