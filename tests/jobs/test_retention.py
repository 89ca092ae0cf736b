"""Videos are kept for the plan's retention and never deleted without notice: the owner is told a week before, and
a video a shorter retention (a downgrade) would remove at once is kept a week after the owner is told."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from portal.jobs import retention
from portal.jobs.models import Job
from tests.factories import storage_has
from tests.jobs_helpers import finished_job, give_plan

DAY = timedelta(days=1)


def made_days_ago(job, days) -> Job:
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - days * DAY)
    job.refresh_from_db()
    return job


def test_videos_go_on_the_date_their_page_shows_and_owners_are_told(
    owner, outsider, owner_client, django_capture_on_commit_callbacks
):
    old, recent = made_days_ago(finished_job(owner, kept_days=7), 8), finished_job(owner, kept_days=7)
    give_plan(outsider, "teacher")
    kept = made_days_ago(finished_job(outsider, kept_days=30), 8)  # Teacher keeps them 30
    page = owner_client.get(reverse("jobs:detail", args=[recent.pk])).content.decode()
    assert f"{recent.created_at + 7 * DAY:%-d %b %Y}" in page
    with django_capture_on_commit_callbacks(execute=True):
        call_command("jobs_maintenance")
    assert not Job.objects.filter(pk=old.pk).exists() and not storage_has(old.output.name)
    assert Job.objects.filter(pk__in=[recent.pk, kept.pk]).count() == 2 and storage_has(kept.output.name)
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"] and "were deleted" in message.body and "7 days" in message.body


def test_a_downgrade_keeps_old_videos_a_week_after_the_owner_is_told(owner, owner_client):
    give_plan(owner, "teacher")
    old = made_days_ago(finished_job(owner, kept_days=30), 20)
    give_plan(owner, "free")  # Free keeps videos 7 days: this one is 13 days past that
    now = timezone.now()
    assert retention.run(now) == {"expiry_notices": [old.pk], "expired": []}
    (notice,) = mail.outbox
    assert "will be deleted in 7 days" in notice.subject and f"deleted on {now + 7 * DAY:%Y-%m-%d}" in notice.body
    assert retention.expires_at(Job.objects.get(pk=old.pk), now) == now + 7 * DAY
    page = owner_client.get(reverse("jobs:detail", args=[old.pk])).content.decode()
    assert f"{now + 7 * DAY:%-d %b %Y}" in page
    assert retention.run(now + 6 * DAY)["expired"] == []
    assert retention.run(now + 7 * DAY)["expired"] == [old.pk]


def test_an_upgrade_after_the_notice_keeps_the_video(owner):
    give_plan(owner, "teacher")
    video = made_days_ago(finished_job(owner, kept_days=30), 10)
    give_plan(owner, "free")
    now = timezone.now()
    assert retention.run(now)["expiry_notices"] == [video.pk]
    give_plan(owner, "teacher")
    assert retention.run(now + 8 * DAY) == {"expiry_notices": [], "expired": []}
    assert Job.objects.get(pk=video.pk).expiry_notified_at is None


def test_a_notice_that_could_not_be_sent_does_not_start_the_countdown(owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: the mail server is down
    give_plan(owner, "teacher")
    video = made_days_ago(finished_job(owner, kept_days=30), 30)
    give_plan(owner, "free")
    assert retention.run()["expiry_notices"] == []
    assert retention.run(timezone.now() + 30 * DAY)["expired"] == []
    assert Job.objects.get(pk=video.pk).expiry_notified_at is None


@pytest.mark.parametrize("status", [Job.Status.RUNNING, Job.Status.QUEUED])
def test_unfinished_jobs_are_never_expired(owner, status):
    running = made_days_ago(finished_job(owner, status=status, video=None), 400)
    call_command("jobs_maintenance")
    call_command("jobs_maintenance")
    assert Job.objects.filter(pk=running.pk).exists() and not mail.outbox
