from django.urls import reverse

from portal.jobs.models import Job
from tests.jobs_helpers import finished_job


def test_owner_gets_progress_as_json(owner_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None, progress=0.5, stage="animate")
    body = owner_client.get(reverse("jobs:status", args=[job.id])).json()
    assert body == {"id": str(job.id), "status": "running", "progress": 0.5, "stage": "animate", "finished": False,
                    "error": None}


def test_failed_job_reports_its_error(owner_client, owner):
    job = finished_job(owner, status=Job.Status.FAILED, video=None, error_code="no_face", error_message="No face.")
    body = owner_client.get(reverse("jobs:status", args=[job.id])).json()
    assert body["finished"] and body["error"] == {"code": "no_face", "message": "No face."}


def test_outsider_gets_404(outsider_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None)
    assert outsider_client.get(reverse("jobs:status", args=[job.id])).status_code == 404
