"""Jobs through the API: create, list, retrieve, cancel, re-run, delete, with the web's refusals and codes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import quota
from billing.models import Reservation
from portal.jobs.models import Job
from tests.api.conftest import assert_error
from tests.factories import storage_has
from tests.jobs_helpers import finished_job, fixture_inputs, messages_in_queue, reservation_state


@pytest.fixture
def inputs(marketer):
    return fixture_inputs(marketer)


def body(portrait, audio, **extra) -> dict:
    return {"portrait": str(portrait.id), "audio": str(audio.id), **extra}


def test_creating_a_job_reserves_its_seconds_and_queues_it(api, inputs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/jobs/", body(*inputs, options={"resolution": 384, "seed": 7}), format="json")
    assert response.status_code == 201
    job = Job.objects.get()
    data = response.json()
    assert data["id"] == str(job.id) and data["status"] == "queued"
    assert response["Location"] == f"/api/v1/jobs/{job.id}/"
    assert data["options"]["resolution"] == 384 and data["options"]["seed"] == 7
    assert data["quota_seconds"] == 10 and data["support_code"] == job.support_code
    assert reservation_state(job) == Reservation.RESERVED
    assert messages_in_queue(job.queue_name) == 1


def test_a_job_can_be_named_when_created_and_is_named_after_its_audio_otherwise(api, inputs):
    named = api.post("/api/v1/jobs/", {**body(*inputs), "title": "  Spring   launch  "}, format="json").json()
    assert named["title"] == "Spring launch" and Job.objects.get(id=named["id"]).download_name == "Spring launch.mp4"
    Job.objects.all().delete()
    unnamed = api.post("/api/v1/jobs/", body(*inputs), format="json").json()
    assert unnamed["title"] == inputs[1].original_name.rsplit(".", 1)[0]
    too_long = api.post("/api/v1/jobs/", {**body(*inputs), "title": "x" * 121}, format="json")
    assert too_long.status_code == 400 and too_long.json()["error"]["field"] == "title"


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"audio": "swap"}, 400, "missing_parameter", "portrait"),
        ({"options": {"dynamic_scale": 9}}, 400, "invalid_parameter", "options.dynamic_scale"),
        ({"options": {"fps": 60}}, 400, "unknown_parameter", "options.fps"),
        ({"options": {"resolution": 1000}}, 400, "invalid_parameter", "options.resolution"),
        ({"colour": "blue"}, 400, "unknown_parameter", "colour"),
        ({"backend": "sonic"}, 400, "backend_not_enabled", "backend"),
        ({"options": {"resolution": 1440}}, 403, "resolution_not_in_plan", None),
    ],
)
def test_refusals_name_the_problem_and_create_nothing(api, inputs, payload, status, code, field):
    request = body(*inputs)
    if payload.pop("audio", None):
        del request["portrait"]
    request.update(payload)
    assert_error(api.post("/api/v1/jobs/", request, format="json"), status, code, field)
    assert not Job.objects.exists() and not Reservation.objects.exists()


def test_someone_elses_portrait_or_audio_is_refused_as_if_it_did_not_exist(api, inputs, rival):
    their_portrait, their_audio = fixture_inputs(rival)
    assert_error(
        api.post("/api/v1/jobs/", body(their_portrait, inputs[1]), format="json"), 400, "portrait_required", "portrait"
    )
    assert_error(api.post("/api/v1/jobs/", body(inputs[0], their_audio), format="json"), 400, "audio_required", "audio")
    assert not Job.objects.exists()


def test_plan_limits_answer_with_the_limits_code_and_the_upgrade_link(api, inputs, marketer):
    portrait, audio = inputs
    type(audio).objects.filter(pk=audio.pk).update(duration_seconds=31 * 60.0)
    error = assert_error(api.post("/api/v1/jobs/", body(portrait, audio), format="json"), 403, "job_too_long")
    assert "30 min" in error["message"] and error["upgrade_url"].endswith("/billing/")


def test_the_concurrency_limit_is_429(api, inputs):
    for _ in range(4):  # Pro runs four at once
        assert api.post("/api/v1/jobs/", body(*inputs), format="json").status_code == 201
    assert_error(api.post("/api/v1/jobs/", body(*inputs), format="json"), 429, "too_many_jobs")
    assert Job.objects.count() == 4


def test_an_exhausted_quota_is_refused(api, inputs, marketer):
    for index in range(8):  # the Pro plan's 4 h, held by other work
        quota.reserve_seconds(marketer, 1800, job_ref=f"elsewhere {index}")
    error = assert_error(api.post("/api/v1/jobs/", body(*inputs), format="json"), 403, "quota_exceeded")
    assert "0 s are left" in error["message"]
    assert not Job.objects.exists()


def test_a_job_shows_status_timings_and_a_signed_download_link(api, marketer, client):
    job = finished_job(
        marketer,
        started_at=timezone.now() - timedelta(seconds=30),
        finished_at=timezone.now(),
        output_duration_seconds=9.72,
        trace_id="ab" * 16,
    )
    data = api.get(f"/api/v1/jobs/{job.id}/").json()
    assert data["status"] == "succeeded" and data["output_duration_seconds"] == 9.72
    assert data["support_code"] == "ABABA-BABAB" and data["trace_id"] == "ab" * 16
    assert 29 < data["render_seconds"] < 31
    assert data["expires_at"] and data["download"]["expires_at"]
    link = data["download"]["url"]
    assert link.startswith("http://127.0.0.1:8000/jobs/download/")
    video = client.get(link.removeprefix("http://127.0.0.1:8000"))  # no key, no session: the link is the grant
    assert video.status_code == 200 and b"".join(video.streaming_content).startswith(b"\x00\x00\x00\x18ftyp")


def test_a_failed_job_shows_its_error(api, marketer):
    job = finished_job(
        marketer,
        status=Job.Status.FAILED,
        video=None,
        error_code="no_face",
        error_message="No face was found in the portrait.",
    )
    data = api.get(f"/api/v1/jobs/{job.id}/").json()
    assert data["error"] == {"code": "no_face", "message": "No face was found in the portrait."}
    assert data["download"] is None


def test_another_users_job_is_404_to_every_endpoint(api, rival):
    job = finished_job(rival)
    for response in (
        api.get(f"/api/v1/jobs/{job.id}/"),
        api.post(f"/api/v1/jobs/{job.id}/cancel/"),
        api.post(f"/api/v1/jobs/{job.id}/rerun/"),
        api.patch(f"/api/v1/jobs/{job.id}/", {"title": "Mine now"}, format="json"),
        api.delete(f"/api/v1/jobs/{job.id}/"),
        api.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000/"),
    ):
        assert_error(response, 404, "not_found")
    assert Job.objects.filter(pk=job.pk).exists() and Job.objects.count() == 1
    job.refresh_from_db()
    assert job.title != "Mine now"


def test_a_job_is_renamed_with_the_same_rules_as_on_its_page(api, marketer):
    job = finished_job(marketer)
    renamed = api.patch(f"/api/v1/jobs/{job.id}/", {"title": "  Spring   launch "}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Spring launch"
    assert_error(
        api.patch(f"/api/v1/jobs/{job.id}/", {"title": "x" * 121}, format="json"), 400, "title_too_long", "title"
    )
    assert_error(api.patch(f"/api/v1/jobs/{job.id}/", {"name": "Other"}, format="json"), 400, "unknown_parameter")
    job.refresh_from_db()
    assert job.title == "Spring launch"
    emptied = api.patch(f"/api/v1/jobs/{job.id}/", {"title": ""}, format="json").json()
    job.refresh_from_db()
    assert job.title == "" and emptied["title"] == job.display_title != "Spring launch"


def test_listing_filters_by_status_and_date_and_pages_with_a_cursor(api, marketer, rival):
    jobs = [finished_job(marketer, video=None) for _ in range(5)]
    finished_job(rival, video=None)
    failed = finished_job(marketer, status=Job.Status.FAILED, video=None)
    for days, job in enumerate(jobs):  # jobs[0] is the newest, a day old
        Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=days + 1))

    seen, url = [], "/api/v1/jobs/?status=succeeded&limit=2"
    while url:
        page = api.get(url).json()
        assert len(page["results"]) <= 2
        seen += [job["id"] for job in page["results"]]
        url = page["next"]
    assert seen == [str(job.id) for job in jobs]  # newest first, each once, only the owner's

    assert [j["id"] for j in api.get("/api/v1/jobs/?status=failed").json()["results"]] == [str(failed.id)]
    since = (timezone.now() - timedelta(days=2, hours=12)).isoformat()
    recent = api.get("/api/v1/jobs/", {"status": "succeeded", "created_after": since}).json()["results"]
    assert [j["id"] for j in recent] == [str(jobs[0].id), str(jobs[1].id)]
    older = api.get("/api/v1/jobs/", {"created_before": since}).json()["results"]
    assert {j["id"] for j in older} == {str(job.id) for job in jobs[2:]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("created_after=yesterday", "created_after"),
        ("limit=1000", "limit"),
        ("sort=oldest", "sort"),
    ],
)
def test_bad_list_filters_are_400(api, query, field):
    assert_error(
        api.get(f"/api/v1/jobs/?{query}"), 400, "unknown_parameter" if field == "sort" else "invalid_request", field
    )


def test_canceling_a_queued_job_refunds_it(api, inputs):
    job_id = api.post("/api/v1/jobs/", body(*inputs), format="json").json()["id"]
    response = api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert reservation_state(Job.objects.get(pk=job_id)) == Reservation.REFUNDED


def test_rerun_makes_a_new_job_with_the_same_inputs_and_options(api, inputs, marketer):
    first = api.post("/api/v1/jobs/", body(*inputs, options={"motion_scale": 0.5}), format="json").json()
    api.post(f"/api/v1/jobs/{first['id']}/cancel/")
    response = api.post(f"/api/v1/jobs/{first['id']}/rerun/")
    assert response.status_code == 201
    again = response.json()
    assert again["id"] != first["id"] and again["status"] == "queued"
    assert again["options"]["motion_scale"] == 0.5 and again["audio"] == first["audio"]


def test_rerun_after_the_inputs_were_deleted_is_refused(api, inputs, marketer):
    job = finished_job(marketer, portrait=inputs[0], audio=inputs[1])
    inputs[1].delete()
    assert_error(api.post(f"/api/v1/jobs/{job.id}/rerun/"), 400, "inputs_deleted")


def test_deleting_a_job_removes_its_video(api, marketer, django_capture_on_commit_callbacks):
    job = finished_job(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/jobs/{job.id}/").status_code == 204
    assert not Job.objects.exists() and not storage_has(job.output.name)


def test_a_rendering_job_cannot_be_deleted(api, marketer):
    job = finished_job(marketer, status=Job.Status.RUNNING, video=None)
    assert_error(api.delete(f"/api/v1/jobs/{job.id}/"), 409, "job_running")
    assert Job.objects.filter(pk=job.pk).exists()


def test_the_request_id_is_on_the_jobs_trace(api, inputs, finished_spans):
    response = api.post("/api/v1/jobs/", body(*inputs), format="json")
    job = Job.objects.get()
    tagged = [span for span in finished_spans() if span.attributes.get("http.request_id") == response["Request-Id"]]
    assert len(tagged) == 1
    assert format(tagged[0].context.trace_id, "032x") == job.trace_id


@pytest.mark.slow
def test_creating_and_canceling_at_once_from_several_keys_never_fails(transactional_db, marketer):
    """Several integrations of one account creating and canceling jobs at the same time: every request answers
    (row locks taken in one order, none blocking the foreign-key checks others make when they commit)."""
    import threading

    from django.db import connection

    from portal.api import keys
    from tests.api.conftest import key_client

    portrait, audio = fixture_inputs(marketer)
    clients = [key_client(keys.create(marketer, f"integration {n}")[1]) for n in range(4)]
    barrier, statuses = threading.Barrier(len(clients)), []

    def create_and_cancel(client):
        try:
            barrier.wait()
            for _ in range(8):
                created = client.post("/api/v1/jobs/", body(portrait, audio), format="json")
                statuses.append(created.status_code)
                if created.status_code == 201:
                    statuses.append(client.post(f"/api/v1/jobs/{created.json()['id']}/cancel/").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create_and_cancel, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(statuses) <= {200, 201, 429} and statuses.count(201) >= 8, statuses
    assert not Job.objects.filter(status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).exists()
    assert {reservation_state(job) for job in Job.objects.all()} == {Reservation.REFUNDED}
