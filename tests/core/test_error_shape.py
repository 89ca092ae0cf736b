"""One JSON error shape: the web pages that answer JSON (the upload and job scripts, billing's buttons) refuse in
the API's words, with the same code, the same keys and the request's id."""

from django.urls import reverse
from rest_framework.test import APIClient

from portal.api import keys
from portal.jobs import services
from tests.jobs_helpers import fixture_inputs, form_data, give_plan

JSON = {"Accept": "application/json"}


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["request_id"] == response["Request-Id"] and error["request_id"].startswith("req_")
    return error


def test_a_plan_limit_reads_the_same_from_the_job_page_and_the_api(owner_client, owner):
    give_plan(owner, "pro")
    portrait, audio = fixture_inputs(owner)
    for _ in range(4):  # the Pro plan's jobs at once
        services.submit(owner, portrait, audio, {"resolution": 256})
    web = _error(owner_client.post(reverse("jobs:new"), form_data(portrait, audio, action="submit"), headers=JSON), 429)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {keys.create(owner, 'tests')[1]}")
    body = {"portrait": str(portrait.id), "audio": str(audio.id), "options": {"resolution": 256}}
    scripted = _error(api.post("/api/v1/jobs/", body, format="json"), 429)
    assert web["code"] == scripted["code"] == "too_many_jobs"
    assert web.keys() == scripted.keys() == {"code", "message", "upgrade_url", "request_id"}
    assert web["upgrade_url"] == scripted["upgrade_url"] and web["upgrade_url"].endswith(reverse("billing:usage"))


def test_an_upload_refusal_carries_the_request_id(owner_client):
    error = _error(owner_client.post(reverse("library:upload_portrait"), {}, headers=JSON), 400)
    assert error["code"] == "no_file" and error["message"]


def test_a_resumable_upload_refusal_carries_the_request_id(owner_client):
    error = _error(owner_client.post(reverse("library:uploads"), headers={"Tus-Resumable": "0.2.2", **JSON}), 412)
    assert error["code"] == "unsupported_version"


def test_billing_answers_a_script_in_the_same_shape(owner_client, settings):
    settings.STRIPE_SECRET_KEY = ""
    error = _error(owner_client.post(reverse("billing:manage"), headers=JSON), 503)
    assert error["code"] == "billing_not_configured" and error["message"]
