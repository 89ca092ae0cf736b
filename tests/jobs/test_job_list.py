from django.urls import reverse

from portal.jobs.models import Job
from tests.jobs_helpers import finished_job

URL = reverse("jobs:list")


def test_owner_sees_own_jobs_newest_first_with_posters(owner_client, owner, outsider):
    older = finished_job(owner)
    newer = finished_job(
        owner,
        status=Job.Status.FAILED,
        video=None,
        error_code="no_face",
        error_message="No face was found in the portrait.",
    )
    theirs = finished_job(outsider)
    page = owner_client.get(URL).content.decode()
    assert page.index(str(newer.id)) < page.index(str(older.id))
    assert str(theirs.id) not in page
    assert reverse("jobs:poster", args=[older.id]) in page
    assert "No face was found in the portrait." in page and "no_face" not in page  # words, not codes


def test_filter_by_status(owner_client, owner):
    done = finished_job(owner)
    failed = finished_job(owner, status=Job.Status.FAILED, video=None)
    page = owner_client.get(URL + "?status=failed").content.decode()
    assert str(failed.id) in page and str(done.id) not in page


def test_paginated_by_twenty(owner_client, owner):
    jobs = [finished_job(owner, video=None) for _ in range(21)]
    first = owner_client.get(URL).content.decode()
    second = owner_client.get(URL + "?page=2").content.decode()
    assert first.count('class="job"') == 20 and second.count('class="job"') == 1
    assert str(jobs[0].id) in second and "Page 2 of 2" in second


def test_empty_list_invites_a_first_video(owner_client):
    assert "Make one" in owner_client.get(URL).content.decode()
