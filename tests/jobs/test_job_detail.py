import uuid

from django.urls import reverse

from portal.jobs.models import Job
from tests.jobs_helpers import finished_job


def url(job):
    return reverse("jobs:detail", args=[job.id])


def test_owner_sees_player_download_link_and_facts(owner_client, owner):
    job = finished_job(owner)
    page = owner_client.get(url(job)).content.decode()
    assert "<video" in page and "/jobs/download/" in page and "Download MP4" in page
    assert reverse("jobs:poster", args=[job.id]) in page
    assert "Kept until" in page and "your plan's retention" in page and "Render again" in page


def test_failed_job_explains_what_to_do(owner_client, owner):
    job = finished_job(
        owner,
        status=Job.Status.FAILED,
        video=None,
        error_code="no_face",
        error_message="No face was found in the portrait.",
    )
    page = owner_client.get(url(job)).content.decode()
    assert "No face was found in the portrait." in page
    assert "one face is clearly visible" in page
    assert "refunded" in page and "<video" not in page


def test_the_page_gives_a_support_code_to_quote(owner_client, owner):
    job = finished_job(
        owner,
        status=Job.Status.FAILED,
        video=None,
        error_code="render_failed",
        trace_id="3f9a2c01b7d4e5f60718293a4b5c6d7e",
    )
    page = owner_client.get(url(job)).content.decode()
    assert '<dd class="support-code" title="Quote this code when you contact support">3F9A2-C01B7</dd>' in page


def test_unfinished_job_polls_for_progress(owner_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None, progress=0.42, stage="animate")
    page = owner_client.get(url(job)).content.decode()
    assert f'data-poll-url="{reverse("jobs:status", args=[job.id])}"' in page
    assert "42%" in page and "Cancel" in page and "Animating the face" in page
    assert "Render again" not in page  # only once it has finished


def test_outsider_gets_404(outsider_client, owner):
    assert outsider_client.get(url(finished_job(owner))).status_code == 404


def test_unknown_job_is_404(owner_client):
    assert owner_client.get(reverse("jobs:detail", args=[uuid.uuid4()])).status_code == 404


def test_anonymous_is_sent_to_login(client, owner):
    response = client.get(url(finished_job(owner)))
    assert response.status_code == 302 and reverse("account_login") in response.url
