"""Render options a client should never send: out of range, not numbers, infinities, huge integers, unknown names.
Each is refused with its code before anything is reserved or queued, on the page and in the API."""

import json

import pytest
from django.urls import reverse

from billing.models import BillingAccount
from portal.api import keys
from portal.jobs.models import Job
from tests.api.conftest import key_client
from tests.jobs_helpers import fixture_inputs

HOSTILE = [
    ({"dynamic_scale": "nan"}, "dynamic_scale"),
    ({"dynamic_scale": "inf"}, "dynamic_scale"),
    ({"dynamic_scale": "1e308"}, "dynamic_scale"),
    ({"motion_scale": "-1"}, "motion_scale"),
    ({"expand_ratio": "7"}, "expand_ratio"),
    ({"seed": str(2**70)}, "seed"),
    ({"seed": "-5"}, "seed"),
    ({"resolution": "99999"}, "resolution"),
    ({"resolution": "0x200"}, "resolution"),
]


@pytest.fixture
def inputs(owner):
    BillingAccount.objects.create(user=owner, plan_override="pro")
    return fixture_inputs(owner)


@pytest.mark.parametrize("options, field", HOSTILE)
def test_the_page_refuses_hostile_options(owner_client, inputs, options, field):
    portrait, audio = inputs
    data = {
        "portrait": portrait.id,
        "audio": audio.id,
        "resolution": 512,
        "dynamic_scale": 1,
        "motion_scale": 1,
        "expand_ratio": 0.5,
        "action": "submit",
        **options,
    }
    response = owner_client.post(reverse("jobs:new"), data, headers={"Accept": "application/json"})
    assert response.status_code == 400, (options, response.status_code)
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "options, field",
    [*HOSTILE, ({"fps": 240}, "fps"), ({"__class__": 1}, "__class__"), ({"inference_steps": 10**6}, "inference_steps")],
)
def test_the_api_refuses_hostile_options(owner, inputs, options, field):
    portrait, audio = inputs
    api = key_client(keys.create(owner, "attack")[1])
    # Written by hand: NaN, Infinity and 1e308 as bare JSON numbers (Python's json module reads them all).
    literal = {"nan": "NaN", "inf": "Infinity"}

    def written(value):
        return literal.get(value, value) if isinstance(value, str) and value != "0x200" else json.dumps(value)

    values = ", ".join(f'"{key}": {written(value)}' for key, value in options.items())
    body = f'{{"portrait": "{portrait.id}", "audio": "{audio.id}", "options": {{{values}}}}}'
    response = api.post("/api/v1/jobs/", body, content_type="application/json")
    assert response.status_code == 400, (options, response.status_code, response.content[:200])
    error = response.json()["error"]
    # invalid_body: NaN and Infinity are not JSON, and the parser says so before any option is read.
    assert error["code"] in ("invalid_parameter", "unknown_parameter", "invalid_request", "invalid_body")
    assert error["message"]
    assert not Job.objects.exists()
