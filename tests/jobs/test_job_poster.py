from django.urls import reverse

from portal.jobs.models import Job
from tests.jobs_helpers import finished_job


def test_owner_gets_the_poster(owner_client, owner):
    job = finished_job(owner)
    response = owner_client.get(reverse("jobs:poster", args=[job.id]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"


def test_job_without_poster_is_404(owner_client, owner):
    job = finished_job(owner, status=Job.Status.QUEUED, video=None, poster="")
    assert owner_client.get(reverse("jobs:poster", args=[job.id])).status_code == 404


def test_outsider_gets_404(outsider_client, owner):
    assert outsider_client.get(reverse("jobs:poster", args=[finished_job(owner).id])).status_code == 404
