from datetime import timedelta

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from portal.jobs.models import Job
from tests.conftest import storage_has
from tests.jobs_helpers import finished_job, give_plan


def age(job, days):
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=days))


def test_videos_past_the_plans_retention_are_deleted_and_owners_told(owner, outsider,
                                                                     django_capture_on_commit_callbacks):
    old, recent = finished_job(owner), finished_job(owner)
    age(old, 8)  # Free keeps videos 7 days
    give_plan(outsider, "teacher")
    kept = finished_job(outsider)
    age(kept, 8)  # Teacher keeps them 30
    with django_capture_on_commit_callbacks(execute=True):
        call_command("jobs_maintenance")
    assert not Job.objects.filter(pk=old.pk).exists() and not storage_has(old.output.name)
    assert Job.objects.filter(pk__in=[recent.pk, kept.pk]).count() == 2 and storage_has(kept.output.name)
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"] and "7 days" in message.body


def test_unfinished_jobs_are_never_expired(owner):
    running = finished_job(owner, status=Job.Status.RUNNING, video=None)
    age(running, 400)
    call_command("jobs_maintenance")
    assert Job.objects.filter(pk=running.pk).exists() and not mail.outbox
