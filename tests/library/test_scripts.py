"""Writing a script: a worker says it into an audio clip with captions, which renders like any audio."""

import re
import time
from datetime import timedelta

import av
import numpy as np
import pytest
from django.test import TestCase
from django.urls import reverse

from portal.jobs.models import Job
from portal.library import scripts
from portal.library.models import AudioClip, Script
from renderer import captions
from tests.jobs_helpers import form_data, wait_for
from tests.renderer.test_renderer_speech import FRAME_SECONDS, _speech_regions

TEXT = "Good morning, class. Today we learn how plants make sugar.\n\nAny questions?"


def _post_script(client, **fields):
    data = {"title": "Lesson one", "text": TEXT, "voice": "en-joe", "rate": "1.0"}
    data.update(fields)
    return client.post(reverse("library:new_script"), data)


def _said(owner, text=TEXT, voice="en-joe") -> Script:
    """A script said by the worker's own code, its after-commit work run too."""
    with TestCase.captureOnCommitCallbacks(execute=False):
        script = scripts.start(owner, "Lesson one", text, voice, 1.0)
    scripts.speak(script.pk)
    script.refresh_from_db()
    return script


def test_the_form_offers_the_installed_voices(owner_client):
    page = owner_client.get(reverse("library:new_script")).content.decode()
    assert 'value="en-joe"' in page and "Joe · English (US), natural" in page
    assert "A blank line makes a pause" in page


def test_checking_the_length_says_it_before_anything_is_stored(owner_client, owner):
    response = _post_script(owner_client, action="preflight")
    assert response.status_code == 200
    assert re.search(r"About [\d.]+ s of speech in 3 captions", response.content.decode())
    assert not Script.objects.exists()


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"text": "Hello 😀"}, "This voice cannot say these characters: “😀” (line 1)"),
        ({"text": "你好。"}, "This voice cannot say these characters"),
        ({"text": "  \n "}, "Write something for the voice to say."),
        ({"voice": "klingon"}, "Select a valid choice"),
        ({"rate": "3"}, "less than or equal to 2"),
    ],
)
def test_a_script_the_voice_cannot_say_is_refused_on_the_form(owner_client, owner, fields, says):
    response = _post_script(owner_client, **fields)
    assert response.status_code == 200
    assert says in response.content.decode()
    assert not Script.objects.exists()


def test_the_refusal_is_in_chinese_for_a_chinese_reader(owner_client, owner):
    owner_client.cookies.load({"django_language": "zh-hans"})
    response = _post_script(owner_client, text="Hello 😀")
    assert "该声音无法朗读这些字符：“😀”（第 1 行）" in response.content.decode()


def test_a_said_script_is_audio_in_the_library_with_a_caption_per_sentence(owner):
    script = _said(owner)
    assert script.status == Script.Status.READY
    clip = script.audio
    assert clip.owner == owner and clip.codec == "flac" and clip.original_name == "Lesson one.flac"
    assert [cue[2] for cue in clip.captions] == [
        "Good morning, class.",
        "Today we learn how plants make sugar.",
        "Any questions?",
    ]
    assert clip.captions[-1][1] < clip.duration_seconds
    assert abs(clip.duration_seconds - script.estimated_seconds) / clip.duration_seconds < 0.3
    assert owner.__class__.objects.get(pk=owner.pk).storage_used_bytes == clip.size_bytes


def test_saying_it_twice_makes_one_clip(owner):
    script = _said(owner)
    assert scripts.speak(script.pk) == Script.Status.READY
    assert AudioClip.objects.filter(owner=owner).count() == 1


def test_the_script_page_shows_the_speech_and_the_way_to_a_video(owner_client, owner):
    script = _said(owner)
    page = owner_client.get(reverse("library:script", args=[script.id])).content.decode()
    assert reverse("library:audio_file", args=[script.audio.id]) in page
    assert f"{reverse('jobs:new')}?audio={script.audio.id}" in page
    assert "3 captions" in page and "Today we learn how plants make sugar." in page


def test_a_script_being_said_refreshes_itself_and_shows_in_the_library(owner_client, owner):
    with TestCase.captureOnCommitCallbacks(execute=False):
        script = scripts.start(owner, "", TEXT, "en-joe", 1.0)
    assert script.title == "Good morning, class."
    page = owner_client.get(reverse("library:script", args=[script.id])).content.decode()
    assert 'http-equiv="refresh"' in page and "Speaking…" in page
    assert "Speaking…" in owner_client.get(reverse("library:index")).content.decode()


def test_a_voice_gone_from_the_worker_refuses_the_script_with_its_reason(owner, monkeypatch):
    with TestCase.captureOnCommitCallbacks(execute=False):
        script = scripts.start(owner, "Leçon", "Bonjour à tous.", "fr-espeak", 1.0)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert scripts.speak(script.pk) == Script.Status.REFUSED
    script.refresh_from_db()
    assert script.error_code == "voice_not_installed" and script.audio is None
    assert not AudioClip.objects.exists()


def test_a_refused_script_can_be_dismissed_and_a_said_one_goes_with_its_audio(owner_client, owner):
    script = _said(owner)
    owner_client.post(reverse("library:delete_script", args=[script.id]))
    assert not Script.objects.exists() and not AudioClip.objects.exists()


def test_outsider_gets_404_on_every_script_url(outsider_client, owner):
    script = _said(owner)
    assert outsider_client.get(reverse("library:script", args=[script.id])).status_code == 404
    assert outsider_client.post(reverse("library:delete_script", args=[script.id])).status_code == 404
    assert Script.objects.filter(pk=script.pk).exists()


def _audio_track(path):
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate([frame.to_ndarray().mean(axis=0) for frame in container.decode(stream)])
    return (samples * 32767).astype(np.int16), rate


@pytest.mark.slow
def test_a_typed_script_becomes_a_video_whose_captions_sit_on_its_speech(owner_client, owner, worker, tmp_path):
    from tests.jobs_helpers import fixture_inputs

    portrait, _audio = fixture_inputs(owner)
    response = _post_script(owner_client)
    script = Script.objects.get()
    assert response.url == reverse("library:script", args=[script.id])
    deadline = time.monotonic() + 60
    while script.status == Script.Status.SPEAKING and time.monotonic() < deadline:
        time.sleep(0.2)
        script.refresh_from_db()
    assert script.status == Script.Status.READY, script.error_message
    owner_client.post(reverse("jobs:new"), form_data(portrait, script.audio))
    job = wait_for(Job.objects.get(audio=script.audio))
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    vtt = owner_client.get(reverse("jobs:captions", args=[job.id, "vtt"])).content.decode()
    cues = captions.parse(vtt, job.output_duration_seconds)
    video = tmp_path / "video.mp4"
    video.write_bytes(job.output.open().read())
    samples, rate = _audio_track(video)
    regions = _speech_regions(samples, rate)
    for cue in cues:  # in the video's own sound track, as a viewer hears it
        inside = [region for region in regions if region[1] > cue.start - FRAME_SECONDS and region[0] < cue.end]
        assert abs(inside[0][0] - cue.start) <= FRAME_SECONDS and abs(inside[-1][1] - cue.end) <= FRAME_SECONDS


def test_upkeep_sends_again_a_script_no_worker_finished_and_gives_up_on_one_every_try_failed(owner):
    import dramatiq
    from django.core.management import call_command
    from django.utils import timezone

    from portal import queue

    with TestCase.captureOnCommitCallbacks(execute=False):
        lost, stuck, fresh = (scripts.start(owner, name, TEXT, "en-joe", 1.0) for name in ("lost", "stuck", "fresh"))
    now = timezone.now()
    Script.objects.filter(pk=lost.pk).update(updated_at=now - timedelta(minutes=25))
    Script.objects.filter(pk=stuck.pk).update(updated_at=now - timedelta(hours=2))

    call_command("jobs_maintenance")

    states = dict(Script.objects.values_list("title", "status"))
    assert states == {"lost": "speaking", "stuck": "refused", "fresh": "speaking"}
    assert Script.objects.get(pk=stuck.pk).error_code == "speech_failed"
    broker = dramatiq.get_broker()
    assert broker.client.llen(f"{broker.namespace}:{queue.UPLOAD_CHECK_QUEUE}") == 1, "only the lost one is sent again"
    assert scripts.speak(lost.pk) == Script.Status.READY
