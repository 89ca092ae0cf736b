from django.test import override_settings
from django.urls import reverse

from portal import storage
from tests.jobs_helpers import finished_job


def link(job, name=None):
    return reverse("jobs:download", args=[storage.sign_download(job.id, name or job.output.name)])


def test_signed_link_works_without_a_session(client, owner):
    job = finished_job(owner)
    response = client.get(link(job))
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == job.output.open().read()


def test_range_requests_let_the_player_seek(client, owner):
    job = finished_job(owner)
    response = client.get(link(job), headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206 and response["Content-Range"] == f"bytes 1000-1999/{job.output.size}"
    assert b"".join(response.streaming_content) == job.output.open().read()[1000:2000]


def test_download_parameter_makes_it_an_attachment_named_after_the_title(client, owner):
    job = finished_job(owner, title="Lesson 1: greetings")
    response = client.get(link(job) + "?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="Lesson 1 greetings.mp4"'
    ranged = client.get(link(job) + "?download=1", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged["Content-Disposition"] == response["Content-Disposition"]


def test_a_chinese_title_downloads_under_that_name(client, owner):
    job = finished_job(owner, title="第一课 / 问候")
    response = client.get(link(job) + "?download=1")
    encoded = "%E7%AC%AC%E4%B8%80%E8%AF%BE%20%E9%97%AE%E5%80%99"  # "第一课 问候": the slash cannot be in a file name
    assert response["Content-Disposition"] == f"attachment; filename*=utf-8''{encoded}.mp4"


def test_the_player_gets_the_video_inline(client, owner):
    response = client.get(link(finished_job(owner, title="Lesson")))
    assert "Content-Disposition" not in response or "attachment" not in response["Content-Disposition"]


def test_tampered_link_is_refused_with_a_friendly_page(client, owner):
    url = link(finished_job(owner))
    tampered = url[:-3] + ("aaa" if not url.endswith("aaa/") else "bbb") + "/"
    response = client.get(tampered.replace("//", "/"))
    assert response.status_code == 403 and b"This link is not valid" in response.content


def test_link_for_one_job_cannot_open_another(client, owner, outsider):
    mine, theirs = finished_job(owner), finished_job(outsider)
    response = client.get(link(mine, name=theirs.output.name))
    assert response.status_code == 410 and b"This video is gone" in response.content


@override_settings(DOWNLOAD_LINK_SECONDS=-1)
def test_expired_link_explains_how_to_get_a_new_one(client, owner):
    response = client.get(link(finished_job(owner)))
    assert response.status_code == 410 and b"This link has expired" in response.content


def test_link_to_a_deleted_job_is_gone(client, owner):
    job = finished_job(owner)
    url = link(job)
    job.delete()
    assert client.get(url).status_code == 410


def test_renew_link_for_owner_only(owner_client, outsider_client, owner):
    job = finished_job(owner)
    response = owner_client.post(reverse("jobs:renew_link", args=[job.id]))
    assert response.status_code == 302 and response.url == reverse("jobs:detail", args=[job.id])
    assert outsider_client.post(reverse("jobs:renew_link", args=[job.id])).status_code == 404
