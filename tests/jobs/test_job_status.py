from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from portal.jobs.models import Job, JobSegment
from tests.jobs_helpers import finished_job


def test_owner_gets_progress_as_json_with_the_stage_in_words_and_the_time_left(owner_client, owner):
    started = timezone.now() - timedelta(seconds=60)
    job = finished_job(owner, status=Job.Status.RUNNING, video=None, progress=0.5, stage="animate", started_at=started)
    body = owner_client.get(reverse("jobs:status", args=[job.id])).json()
    assert body == {
        "id": str(job.id),
        "status": "running",
        "progress": 0.5,
        "stage": "animate",
        "stage_label": "Animating the face",
        "time_left": "about 1 min left",
        "finished": False,
        "error": None,
    }


def test_a_queued_job_waits_for_a_renderer_and_a_lecture_counts_its_parts(owner_client, owner):
    queued = finished_job(owner, status=Job.Status.QUEUED, video=None)
    assert owner_client.get(reverse("jobs:status", args=[queued.id])).json()["stage_label"] == (
        "Waiting for a free renderer"
    )
    lecture = finished_job(
        owner, status=Job.Status.RUNNING, video=None, stage="rendering parts", segment_count=3, progress=0.02
    )
    for index in range(3):
        JobSegment.objects.create(
            job=lecture,
            index=index,
            start_seconds=index * 60.0,
            end_seconds=index * 60.0 + 60,
            status=JobSegment.Status.DONE if index == 0 else JobSegment.Status.RUNNING,
        )
    body = owner_client.get(reverse("jobs:status", args=[lecture.id])).json()
    assert body["stage_label"] == "Rendering in parts (1 of 3 done)" and body["time_left"] == ""


def test_failed_job_reports_its_error(owner_client, owner):
    job = finished_job(owner, status=Job.Status.FAILED, video=None, error_code="no_face", error_message="No face.")
    body = owner_client.get(reverse("jobs:status", args=[job.id])).json()
    assert body["finished"] and body["error"] == {"code": "no_face", "message": "No face."}


def test_outsider_gets_404(outsider_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None)
    assert outsider_client.get(reverse("jobs:status", args=[job.id])).status_code == 404
