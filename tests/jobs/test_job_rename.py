"""Renaming a video: the title shows on its page and in the history, names the download, and only its owner can
change it."""

from django.test import Client
from django.urls import reverse

from portal.jobs.models import TITLE_MAX_LENGTH
from tests.jobs_helpers import finished_job, fixture_inputs


def rename(client, job, title):
    return client.post(reverse("jobs:rename", args=[job.id]), {"title": title})


def test_owner_renames_and_sees_the_title_everywhere(owner_client, owner):
    job = finished_job(owner)
    response = rename(owner_client, job, "  Lesson 3:   the water cycle ")
    job.refresh_from_db()
    assert response.status_code == 302 and job.title == "Lesson 3: the water cycle"
    page = owner_client.get(response.url).content.decode()
    assert "<h1>Lesson 3: the water cycle</h1>" in page and "Renamed." in page
    assert "Lesson 3: the water cycle" in owner_client.get(reverse("jobs:list")).content.decode()
    assert job.download_name == "Lesson 3 the water cycle.mp4"


def test_without_a_title_the_audio_name_stands_in(owner_client, owner):
    _, audio = fixture_inputs(owner)
    job = finished_job(owner, audio=audio, title="Old name")
    rename(owner_client, job, "   ")
    job.refresh_from_db()
    expected = audio.original_name.rsplit(".", 1)[0]
    assert job.title == "" and job.display_title == expected
    assert f"<h1>{expected}</h1>" in owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()


def test_a_title_too_long_is_refused_and_the_old_one_kept(owner_client, owner):
    job = finished_job(owner, title="Kept")
    response = rename(owner_client, job, "x" * (TITLE_MAX_LENGTH + 1))
    job.refresh_from_db()
    assert job.title == "Kept"
    assert f"at most {TITLE_MAX_LENGTH} characters" in owner_client.get(response.url).content.decode()


def test_outsider_gets_404_and_the_title_stays(outsider_client, owner):
    job = finished_job(owner, title="Mine")
    assert rename(outsider_client, job, "Theirs").status_code == 404
    job.refresh_from_db()
    assert job.title == "Mine"


def test_renaming_needs_a_post_and_a_session(owner_client, owner):
    job = finished_job(owner)
    assert owner_client.get(reverse("jobs:rename", args=[job.id])).status_code == 405
    anonymous = rename(Client(), job, "Anonymous")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
    job.refresh_from_db()
    assert job.title == ""
