"""Storage counts what the plans say (uploads, videos and posters); however a job or a user is deleted, its files
go and any reservation it still held comes back; `manage.py storage_audit` finds files with no row and rows with
no file, and is clean after every kind of deletion."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from billing.quota import usage_summary
from portal import storage
from portal.accounts.models import User
from portal.jobs import retention, services
from portal.jobs.models import Job
from portal.library.errors import UploadRejected
from portal.library.upload.store import add_audio
from tests.factories import make_user, running_worker, stored_files, with_second_factor
from tests.jobs_helpers import eventually, fixture_inputs, give_plan, reservation_state, speech_inputs, wait_for
from tests.media import audio_bytes, upload


def audit() -> str:
    out = StringIO()
    call_command("storage_audit", grace_minutes=0, stdout=out)
    return out.getvalue()


@pytest.fixture
def superuser(transactional_db, client):
    admin = User.objects.create_superuser(email="admin@example.com", password="x")
    with_second_factor(client, admin)
    return client


@pytest.mark.slow
def test_rendered_videos_and_posters_count_against_storage(teacher, settings):
    portrait, audio = fixture_inputs(teacher)
    with running_worker(threads=1):
        job = wait_for(services.submit(teacher, portrait, audio, {"resolution": 256}))
    teacher.refresh_from_db()
    video, poster = default_storage.size(job.output.name), default_storage.size(job.poster.name)
    assert job.stored_bytes == video + poster > 0
    assert teacher.storage_used_bytes == portrait.size_bytes + audio.size_bytes + video + poster
    assert "0 with no row, 0 rows with no file" in audit()

    # Once the videos fill the plan's storage, the next upload is refused (the videos themselves are kept).
    settings.STORAGE_QUOTA_BYTES = teacher.storage_used_bytes + 1000
    give_plan(teacher, "free")
    with pytest.raises(UploadRejected) as refused:
        add_audio(teacher, upload("more.wav", audio_bytes(".wav", seconds=1.0)))
    assert refused.value.code == "storage_quota_exceeded"

    services.delete(job)
    teacher.refresh_from_db()
    assert teacher.storage_used_bytes == portrait.size_bytes + audio.size_bytes


@pytest.mark.slow
def test_every_kind_of_deletion_leaves_storage_clean(teacher, superuser, settings):
    settings.SEGMENT_SECONDS = 4.0
    other = make_user("other@example.com")
    give_plan(other, "teacher")
    with running_worker(threads=2):
        by_user = wait_for(services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256}))
        by_admin = wait_for(services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256}))
        lecture = wait_for(services.submit(other, *speech_inputs(other, 9.0), {"resolution": 256}), timeout=240)
    assert lecture.segment_count >= 2 and all(job.status == "succeeded" for job in (by_user, by_admin, lecture))
    eventually(lambda: "0 with no row" in audit(), "the parts' files to go once joined")

    superuser.post(reverse("admin:jobs_job_delete", args=[by_admin.pk]), {"post": "yes"})
    assert not Job.objects.filter(pk=by_admin.pk).exists()
    eventually(lambda: not default_storage.exists(by_admin.output.name), "the admin-deleted video's file to go")

    superuser.force_login(teacher)  # the owner, on the job page
    superuser.post(reverse("jobs:delete", args=[by_user.pk]))
    assert not Job.objects.filter(pk=by_user.pk).exists()

    queued = services.submit(teacher, *fixture_inputs(teacher), {"resolution": 256})  # no worker: stays queued
    assert reservation_state(queued) == "reserved"
    Job.objects.filter(pk=queued.pk).delete()  # as admin's bulk delete does
    assert usage_summary(teacher)["reserved_seconds"] == 0

    retention.run(now=lecture.created_at + timedelta(days=400))  # the notice ...
    retention.run(now=lecture.created_at + timedelta(days=410))  # ... then the deletion
    assert not Job.objects.filter(pk=lecture.pk).exists()

    with running_worker(threads=1):
        assert wait_for(services.submit(other, *fixture_inputs(other), {"resolution": 256})).status == "succeeded"
    queued_too = services.submit(other, *fixture_inputs(other), {"resolution": 256})
    assert Job.objects.filter(owner=other).count() == 2  # a video and a queued job go with the account
    with_second_factor(superuser, User.objects.get(email="admin@example.com"))
    response = superuser.post(reverse("admin:accounts_user_delete", args=[other.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=other.pk).exists() and not Job.objects.filter(pk=queued_too.pk).exists()
    User.objects.get(pk=teacher.pk).delete()
    eventually(lambda: stored_files() == [], "every file of the deleted accounts to go")
    assert "0 files, 0 referenced" in audit()


def test_the_audit_reports_files_with_no_row_and_rows_with_no_file(teacher):
    portrait, audio = fixture_inputs(teacher)
    stray = default_storage.save(storage.new_key(teacher, "renders", ".mp4"), ContentFile(b"left behind"))
    default_storage.delete(audio.file.name)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("storage_audit", grace_minutes=0, stdout=out)
    assert f"no row:  {stray}" in out.getvalue() and f"no file: {audio.file.name}" in out.getvalue()
    assert "1 with no row, 1 rows with no file" in out.getvalue()
    assert portrait.file.name not in out.getvalue()
