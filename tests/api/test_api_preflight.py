"""The free pre-flight: what the web's "Check" shows, and whether the job would be accepted, with nothing spent."""

import pytest

from billing.models import Reservation
from portal.jobs.models import Job
from tests.api.conftest import assert_error
from tests.factories import make_user
from tests.jobs_helpers import fixture_inputs
from tests.library_helpers import add_portrait


@pytest.fixture
def inputs(marketer):
    return fixture_inputs(marketer)


def check(client, portrait, audio, **extra):
    return client.post(
        "/api/v1/preflight/", {"portrait": str(portrait.id), "audio": str(audio.id), **extra}, format="json"
    )


def test_a_good_job_is_ok_with_face_length_and_cost(api, inputs):
    response = check(api, *inputs, options={"resolution": 720})
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True and result["refusal"] is None
    assert result["faces_found"] == 1 and result["face_error"] is None
    assert result["audio_duration_seconds"] == pytest.approx(9.719, abs=0.01)
    assert result["quota_seconds"] == 10 and result["remaining_seconds"] == 4 * 60 * 60
    assert result["params"]["resolution"] == 720
    assert not Job.objects.exists() and not Reservation.objects.exists()


def test_a_portrait_without_a_face_is_not_ok(api, marketer, inputs):
    faceless = add_portrait(marketer)
    result = check(api, faceless, inputs[1]).json()
    assert result["ok"] is False and result["face_error"]["code"] == "no_face"


def test_what_submit_would_refuse_is_said_before_anything_is_spent(client, db):
    """A Free user's 4-minute lecture: the check says it is over the plan's 1-minute limit, not only its cost."""
    free = make_user("free@example.com")
    client.force_login(free)
    portrait, audio = fixture_inputs(free)
    type(audio).objects.filter(pk=audio.pk).update(duration_seconds=250.5)
    result = client.post(
        "/api/v1/preflight/", {"portrait": str(portrait.id), "audio": str(audio.id)}, content_type="application/json"
    ).json()
    assert result["ok"] is False and result["quota_seconds"] == 251
    assert result["refusal"]["code"] == "job_too_long"
    assert not Reservation.objects.exists()


def test_refusals_of_the_request_itself_are_errors(api, inputs, rival):
    their_portrait, _ = fixture_inputs(rival)
    assert_error(check(api, their_portrait, inputs[1]), 400, "portrait_required", "portrait")
    assert_error(check(api, *inputs, options={"expand_ratio": 3}), 400, "invalid_parameter", "options.expand_ratio")
