import uuid

from django.urls import reverse

from portal.jobs import services
from portal.jobs.models import Job
from tests.factories import storage_has
from tests.jobs_helpers import finished_job, fixture_inputs, give_plan, reservation_state


def test_cancel_a_queued_job_refunds_at_once(owner_client, owner):
    portrait, audio = fixture_inputs(owner)
    job = services.submit(owner, portrait, audio, {"resolution": 256})
    response = owner_client.post(reverse("jobs:cancel", args=[job.id]))
    job.refresh_from_db()
    assert response.status_code == 302 and job.status == "canceled" and reservation_state(job) == "refunded"
    assert "reserved seconds are back" in owner_client.get(response.url).content.decode()


def test_cancel_a_running_job_asks_the_worker_to_stop(owner_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None, attempt_token=uuid.uuid4())  # a worker holds it
    owner_client.post(reverse("jobs:cancel", args=[job.id]))
    job.refresh_from_db()
    assert job.status == "running" and job.cancel_requested


def test_rerun_queues_a_new_job_with_the_same_inputs(owner_client, owner):
    give_plan(owner, "teacher")
    portrait, audio = fixture_inputs(owner)
    first = services.submit(owner, portrait, audio, {"resolution": 256, "seed": 7})
    response = owner_client.post(reverse("jobs:rerun", args=[first.id]))
    second = Job.objects.exclude(pk=first.pk).get()
    assert response.url == reverse("jobs:detail", args=[second.id])
    assert (second.portrait, second.audio, second.params) == (first.portrait, first.audio, first.params)


def test_rerun_after_inputs_were_deleted_explains(owner_client, owner):
    job = finished_job(owner)
    response = owner_client.post(reverse("jobs:rerun", args=[job.id]))
    assert "was deleted from your library" in owner_client.get(response.url).content.decode()


def test_delete_removes_the_job_and_its_files(owner_client, owner, django_capture_on_commit_callbacks):
    job = finished_job(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("jobs:delete", args=[job.id]))
    assert response.url == reverse("jobs:list") and not Job.objects.exists()
    assert not storage_has(job.output.name) and not storage_has(job.poster.name)


def test_a_running_job_cannot_be_deleted(owner_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None)
    response = owner_client.post(reverse("jobs:delete", args=[job.id]))
    assert "cancel it, then delete it" in owner_client.get(response.url).content.decode()
    assert Job.objects.filter(pk=job.pk).exists()


def test_outsider_gets_404_on_every_action(outsider_client, owner):
    job = finished_job(owner)
    for name in ("cancel", "rerun", "delete", "renew_link"):
        assert outsider_client.post(reverse(f"jobs:{name}", args=[job.id])).status_code == 404, name
    assert Job.objects.filter(pk=job.pk).exists()


def test_actions_need_post(owner_client, owner):
    job = finished_job(owner)
    for name in ("cancel", "rerun", "delete"):
        assert owner_client.get(reverse(f"jobs:{name}", args=[job.id])).status_code == 405
