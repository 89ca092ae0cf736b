"""The email a job's owner gets when it finishes: ready or failed (with the reason and the refund), in their language,
never for a job they canceled, and not at all when they turned it off."""

import pytest
from django.core import mail

from portal.jobs.models import Job
from portal.jobs.signals import job_finished
from tests.jobs_helpers import finished_job


def finish(job):
    job_finished.send(sender=Job, job_id=job.id)


def test_a_finished_video_is_announced_with_its_page(owner, settings):
    settings.SITE_URL = "https://studio.example"
    job = finished_job(owner, title="Lesson 4: tides")
    finish(job)
    (email,) = mail.outbox
    assert email.to == [owner.email] and email.subject == "[Sonic Portal] Your video “Lesson 4: tides” is ready"
    assert f"https://studio.example/jobs/{job.id}/" in email.body and "(9.7 s)" in email.body


def test_a_failed_video_says_why_and_that_the_time_was_given_back(owner):
    job = finished_job(
        owner,
        status=Job.Status.FAILED,
        video=None,
        error_code="no_face",
        quota_seconds=12,
        error_message="no face was found in the portrait; use a photo with one clearly visible face",
    )
    finish(job)
    (email,) = mail.outbox
    assert "could not be made" in email.subject
    assert "no face was found" in email.body and "12 s of render time it reserved were given back" in email.body


def test_in_the_owners_language(owner):
    owner.language = "zh-hans"
    owner.save()
    finish(finished_job(owner, title="第三课"))
    assert mail.outbox[0].subject == "[Sonic Portal] 您的视频“第三课”已完成"


@pytest.mark.parametrize("status", [Job.Status.CANCELED])
def test_no_email_for_a_canceled_job(owner, status):
    finish(finished_job(owner, status=status, video=None))
    assert mail.outbox == []


def test_no_email_when_turned_off_in_preferences(owner_client, owner):
    response = owner_client.post("/accounts/preferences/", {"language": "", "time_zone": ""})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.email_when_finished is False
    finish(finished_job(owner))
    assert mail.outbox == []
