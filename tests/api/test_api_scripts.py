"""Scripts over the API: the voices on offer, a free pre-flight, then a worker says the script into an audio clip
that renders like any other, and the video's captions come back as links that work with the key."""

import pytest
from django.test import TestCase

from portal.library import scripts
from portal.library.models import AudioClip, Script
from renderer import captions
from tests.api.conftest import assert_error
from tests.jobs_helpers import finished_job

TEXT = "Good morning, class. Today we learn how plants make sugar.\n\nAny questions?"


def test_the_voices_say_which_are_installed_and_in_which_language(api):
    voices = {voice["name"]: voice for voice in api.get("/api/v1/voices/").json()}
    assert voices["en-joe"] == {
        "name": "en-joe",
        "label": "Joe · English (US), natural",
        "language": "en-US",
        "installed": True,
    }
    assert voices["zh-cmn"]["language"].startswith("zh") and voices["zh-cmn"]["installed"] is True


def test_the_preflight_says_the_length_and_stores_nothing(api):
    response = api.post("/api/v1/scripts/preflight/", {"text": TEXT, "rate": 1.2}, format="json")
    assert response.status_code == 200, response.content
    said = response.json()
    assert said["voice"] == "en-joe" and said["rate"] == 1.2 and said["captions"] == 3
    assert 3 < said["estimated_seconds"] < 10 and said["characters"] == len(TEXT)
    assert not Script.objects.exists()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"text": "Hello 😀"}, "unsupported_characters", "text"),
        ({"text": "   "}, "empty_script", "text"),
        ({"text": "Hi.", "voice": "klingon"}, "unknown_voice", "voice"),
        ({"text": "Hi.", "rate": 3}, "invalid_parameter", "rate"),
        ({"text": "Hi.", "speed": 1}, "unknown_parameter", "speed"),
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/scripts/", "/api/v1/scripts/preflight/"])
def test_a_script_the_voice_cannot_say_is_refused_with_its_code(api, url, body, code, field):
    assert_error(api.post(url, body, format="json"), 400, code, field)
    assert not Script.objects.exists()


def test_a_script_is_said_into_an_audio_clip_with_captions(api, marketer):
    with TestCase.captureOnCommitCallbacks(execute=False):
        response = api.post("/api/v1/scripts/", {"text": TEXT, "title": "Lesson one"}, format="json")
    assert response.status_code == 202, response.content
    assert response["Retry-After"] and response["Location"] == f"/api/v1/scripts/{response.json()['id']}/"
    assert response.json()["status"] == "speaking" and response.json()["audio"] is None

    scripts.speak(response.json()["id"])  # the worker's own code
    ready = api.get(response["Location"])
    assert "Retry-After" not in ready
    body = ready.json()
    assert body["status"] == "ready" and body["error"] is None
    clip = AudioClip.objects.get(pk=body["audio"], owner=marketer)
    assert clip.duration_seconds == pytest.approx(body["estimated_seconds"], rel=0.25)
    assert [cue[2] for cue in clip.captions][-1] == "Any questions?"
    assert api.get("/api/v1/scripts/").json()[0]["id"] == body["id"]

    assert api.delete(response["Location"]).status_code == 204
    assert not Script.objects.exists() and not AudioClip.objects.exists()


def test_captions_of_a_video_come_as_links_that_work_with_the_key(api, marketer):
    job = finished_job(marketer, captions=[[0.3, 1.5, "Hello, class."]], captions_source="script")
    state = api.get(f"/api/v1/jobs/{job.id}/").json()["captions"]
    assert state["count"] == 1 and state["source"] == "script" and state["status"] == ""
    vtt = api.get(state["vtt_url"].removeprefix("http://testserver"))
    assert vtt.status_code == 200 and vtt["Content-Type"] == "text/vtt; charset=utf-8"
    assert captions.parse(vtt.content.decode()) == [captions.Cue(0.3, 1.5, "Hello, class.")]
    assert (
        "00:00:00,300 --> 00:00:01,500" in api.get(state["srt_url"].removeprefix("http://testserver")).content.decode()
    )


def test_a_video_without_captions_has_no_caption_links(api, marketer):
    job = finished_job(marketer)
    state = api.get(f"/api/v1/jobs/{job.id}/").json()["captions"]
    assert state == {
        "count": 0,
        "source": "",
        "language": "",
        "status": "",
        "error": None,
        "vtt_url": None,
        "srt_url": None,
        "burned_in": "",
        "burned_in_url": None,
    }
    assert_error(api.get(f"/api/v1/jobs/{job.id}/captions.vtt"), 404, "not_found")


def test_the_owner_replaces_the_captions_and_bad_ones_are_refused_whole(api, marketer):
    job = finished_job(marketer, captions=[[0.3, 1.5, "Hello, class."]])
    url = f"/api/v1/jobs/{job.id}/captions/"
    bad = api.put(url, {"captions": "WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nBackwards\n"}, format="json")
    assert_error(bad, 400, "captions_invalid")
    assert api.get(f"/api/v1/jobs/{job.id}/").json()["captions"]["count"] == 1
    good = api.put(url, {"captions": "1\n00:00:01,000 --> 00:00:02,500\n同学们好。\n"}, format="json")
    assert good.status_code == 200 and good.json()["source"] == "edited" and good.json()["count"] == 1
    assert "同学们好。" in api.get(f"/api/v1/jobs/{job.id}/captions.vtt").content.decode()
    assert api.delete(url).status_code == 204
    assert api.get(f"/api/v1/jobs/{job.id}/").json()["captions"]["count"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/scripts/{script}/", None),
        ("delete", "/api/v1/scripts/{script}/", None),
        ("get", "/api/v1/jobs/{job}/captions.vtt", None),
        ("put", "/api/v1/jobs/{job}/captions/", {"captions": "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nMine\n"}),
        ("delete", "/api/v1/jobs/{job}/captions/", None),
        ("post", "/api/v1/jobs/{job}/captions/make/", {}),
        ("post", "/api/v1/jobs/{job}/captions/burn-in/", None),
    ],
)
def test_another_accounts_key_gets_404_and_changes_nothing(rival_api, marketer, method, path, body):
    job = finished_job(marketer, captions=[[0.3, 1.5, "Hello, class."]])
    with TestCase.captureOnCommitCallbacks(execute=False):
        script = scripts.start(marketer, "Mine", TEXT, "en-joe", 1.0)
    url = path.format(script=script.id, job=job.id)
    response = (
        getattr(rival_api, method)(url, body, format="json") if body is not None else getattr(rival_api, method)(url)
    )
    assert_error(response, 404, "not_found")
    job.refresh_from_db()
    assert job.captions == [[0.3, 1.5, "Hello, class."]] and job.captions_status == job.burned_in_status == ""
    assert Script.objects.filter(pk=script.pk).exists()


def test_a_burned_in_copy_is_asked_for_and_refused_without_captions(api, marketer):
    bare = finished_job(marketer)
    assert_error(api.post(f"/api/v1/jobs/{bare.id}/captions/burn-in/"), 409, "no_captions")
    job = finished_job(marketer, captions=[[0.3, 1.5, "Hello, class."]])
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        response = api.post(f"/api/v1/jobs/{job.id}/captions/burn-in/")
    assert response.status_code == 202 and response.json()["burned_in"] == "burning" and len(sent) == 1
    assert api.get(f"/api/v1/jobs/{job.id}/").json()["captions"]["burned_in"] == "burning"
    assert_error(api.post(f"/api/v1/jobs/{job.id}/captions/burn-in/"), 409, "burn_in_in_progress")
