"""POST /api/v1/checkpoints/: the qualification pipeline's promote step records weights that passed the gate. Only
staff allowed to add checkpoints may; a run that failed a case, weights recorded under another version and
withdrawn weights are refused; promoting the same weights again is a no-op."""

import pytest
from django.contrib.auth.models import Permission

from portal.api import keys
from portal.checkpoints.models import Checkpoint
from tests.api.conftest import assert_error, key_client
from tests.factories import make_user

URL = "/api/v1/checkpoints/"
DIGEST = "sha256:" + "ab" * 32


def promotion(**changes) -> dict:
    body = {
        "backend": "sonic",
        "version": "sonic-2027a",
        "digest": DIGEST,
        "figures": {
            "cases_passed": 17,
            "cases_total": 17,
            "duration_error_ms": 12.5,
            "offset_frames": 0,
            "sync_correlation": 0.71,
        },
        "report_url": "https://reports.example.com/qualify/7f3c/report.html",
        "pipeline_run": "qualify-7f3c",
    }
    body.update(changes)
    return body


@pytest.fixture
def pipeline(db):
    """The pipeline's own account: staff with the permission to add checkpoints, on no paid plan."""
    account = make_user("qualify-pipeline@example.com")
    account.is_staff = True
    account.save()
    account.user_permissions.add(Permission.objects.get(codename="add_checkpoint"))
    _, key = keys.create(account, "tekton promote")
    return key_client(key)


def test_the_pipeline_records_a_checkpoint_that_passed_and_again_is_a_no_op(pipeline):
    created = pipeline.post(URL, promotion(), format="json")
    assert created.status_code == 201, created.content
    assert created.json() | {"promoted_at": None} == {
        "backend": "sonic",
        "version": "sonic-2027a",
        "digest": DIGEST,
        "source": "pipeline",
        "cases_passed": 17,
        "cases_total": 17,
        "duration_error_ms": 12.5,
        "offset_frames": 0.0,
        "sync_correlation": 0.71,
        "report_url": "https://reports.example.com/qualify/7f3c/report.html",
        "pipeline_run": "qualify-7f3c",
        "promoted_at": None,
        "serves": True,
    }
    checkpoint = Checkpoint.objects.get()
    assert checkpoint.promoted_by.email == "qualify-pipeline@example.com"

    again = pipeline.post(URL, promotion(), format="json")  # a re-run of the same PipelineRun
    assert again.status_code == 200 and Checkpoint.objects.count() == 1


def test_a_run_that_failed_a_case_is_not_recorded(pipeline):
    failed = promotion(figures={"cases_passed": 16, "cases_total": 17})
    error = assert_error(pipeline.post(URL, failed, format="json"), 400, "gate_failed", field="figures")
    assert "16 of 17" in error["message"]
    assert not Checkpoint.objects.exists()


def test_weights_keep_their_version_and_withdrawn_weights_stay_withdrawn(pipeline):
    assert pipeline.post(URL, promotion(), format="json").status_code == 201
    assert_error(pipeline.post(URL, promotion(version="sonic-2027b"), format="json"), 409, "checkpoint_conflict")
    Checkpoint.objects.update(withdrawn_at="2026-12-07T03:00:00Z")
    assert_error(pipeline.post(URL, promotion(), format="json"), 409, "checkpoint_withdrawn")


def test_bad_requests_name_the_field(pipeline):
    assert_error(pipeline.post(URL, promotion(digest="sha256:xyz"), format="json"), 400, "invalid_digest", "digest")
    assert_error(pipeline.post(URL, promotion(backend="dall-e"), format="json"), 400, "invalid_request", "backend")
    assert_error(pipeline.post(URL, promotion(colour="red"), format="json"), 400, "unknown_parameter", "colour")


def test_outsiders_cannot_promote(api, db):
    """A customer's key (Pro plan, the API included), staff without the permission, and no key at all."""
    assert_error(api.post(URL, promotion(), format="json"), 403, "forbidden")
    support = make_user("support@example.com")
    support.is_staff = True
    support.save()
    _, key = keys.create(support, "support's")
    assert_error(key_client(key).post(URL, promotion(), format="json"), 403, "forbidden")
    assert_error(key_client("sk_live_nonsense").post(URL, promotion(), format="json"), 401, "invalid_api_key")
    assert not Checkpoint.objects.exists()
