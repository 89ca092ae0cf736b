"""Requests an outside probe raced against each other on one object: cancels and deletes of the same job, deletes
of the same portrait, the same video's files. None is a 500; each is answered as if the others had come first (404
once the object is gone), and what the object held (render seconds, storage) is given back exactly once."""

from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse

from billing import quota
from billing.models import Reservation
from portal.api import keys
from portal.jobs import services
from portal.jobs.models import Job
from portal.library import usage
from portal.library.models import Portrait
from tests.api.conftest import key_client, pro_user
from tests.concurrency import at_once
from tests.jobs_helpers import finished_job, fixture_inputs


@pytest.fixture
def marketer(transactional_db):
    return pro_user("marketer@example.com")


def api_clients(user, count: int):
    _, key = keys.create(user, "racing")
    return [key_client(key) for _ in range(count)]


@pytest.mark.slow
def test_cancels_racing_deletes_of_one_job_are_never_a_500_and_refund_once(marketer):
    portrait, audio = fixture_inputs(marketer)
    job = services.submit(marketer, portrait, audio, {"resolution": 256})  # no worker runs: it stays queued
    before = quota.usage_summary(marketer)
    clients = api_clients(marketer, 60)
    cancel, delete = f"/api/v1/jobs/{job.id}/cancel/", f"/api/v1/jobs/{job.id}/"
    answers = at_once(
        [lambda c=c: c.post(cancel) for c in clients[:30]] + [lambda c=c: c.delete(delete) for c in clients[30:]]
    )

    failures = [answer for answer in answers if isinstance(answer, Exception) or answer.status_code >= 500]
    assert failures == []
    statuses = Counter(
        (method, answer.status_code) for method, answer in zip(["cancel"] * 30 + ["delete"] * 30, answers, strict=True)
    )
    assert statuses[("delete", 204)] == 1, statuses
    assert set(statuses) <= {("cancel", 200), ("cancel", 404), ("delete", 204), ("delete", 404)}, statuses
    assert {answer.json()["error"]["code"] for answer in answers if answer.status_code == 404} == {"not_found"}
    assert not Job.objects.exists()
    assert Reservation.objects.get(pk=job.reservation_id).state == Reservation.REFUNDED
    after = quota.usage_summary(marketer)
    assert after["remaining_seconds"] == before["remaining_seconds"] + job.quota_seconds, "refunded once"


def test_the_same_races_on_the_pages_end_in_a_redirect_or_404(marketer):
    portrait, audio = fixture_inputs(marketer)
    job = services.submit(marketer, portrait, audio, {"resolution": 256})
    clients = [Client() for _ in range(20)]
    for client in clients:
        client.force_login(marketer)
    cancel, delete = reverse("jobs:cancel", args=[job.id]), reverse("jobs:delete", args=[job.id])
    answers = at_once(
        [lambda c=c: c.post(cancel) for c in clients[:10]] + [lambda c=c: c.post(delete) for c in clients[10:]]
    )
    assert [answer for answer in answers if isinstance(answer, Exception)] == []
    assert {answer.status_code for answer in answers} <= {302, 404}
    assert not Job.objects.exists()


@pytest.mark.slow
def test_deletes_racing_each_other_give_the_storage_back_once(marketer):
    portrait, _audio = fixture_inputs(marketer)
    video = finished_job(marketer, stored_bytes=40_000)
    usage.add(marketer.pk, 40_000)  # as the worker counts a video it stored
    marketer.refresh_from_db()
    held = marketer.storage_used_bytes
    clients = api_clients(marketer, 40)
    answers = at_once(
        [lambda c=c: c.delete(f"/api/v1/portraits/{portrait.id}/") for c in clients[:20]]
        + [lambda c=c: c.delete(f"/api/v1/jobs/{video.id}/") for c in clients[20:]]
    )
    assert [answer for answer in answers if isinstance(answer, Exception)] == []
    assert Counter(answer.status_code for answer in answers) == {204: 2, 404: 38}
    assert not Portrait.objects.exists() and not Job.objects.exists()
    marketer.refresh_from_db()
    assert marketer.storage_used_bytes == held - portrait.size_bytes - 40_000
