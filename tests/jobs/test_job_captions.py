"""A video's captions: shown by its player, downloaded as WebVTT or SRT, corrected or replaced by its owner, or made
from its speech by a worker (timed to a transcript, or recognised); the owner's only."""

import html
import re
import socket

import dramatiq
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse

from portal.accounts.models import User
from portal.jobs import captions as job_captions
from portal.jobs import sharing
from portal.jobs.models import Job
from renderer import captions, media, speech
from tests.factories import storage_has
from tests.jobs_helpers import finished_job


def test_job_captions_are_served_to_the_owner_in_both_formats(owner_client, owner):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."], [2.0, 3.25, "同学们好。"]])
    vtt = owner_client.get(reverse("jobs:captions", args=[job.id, "vtt"]))
    assert vtt["Content-Type"] == "text/vtt; charset=utf-8"
    assert captions.parse(vtt.content.decode()) == [
        captions.Cue(0.3, 1.5, "Hello, class."),
        captions.Cue(2.0, 3.25, "同学们好。"),
    ]
    srt = owner_client.get(reverse("jobs:captions", args=[job.id, "srt"]) + "?download=1")
    assert srt["Content-Disposition"].startswith("attachment") and ".srt" in srt["Content-Disposition"]
    assert captions.parse(srt.content.decode())[1].text == "同学们好。"
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert f'<track kind="captions" default src="{reverse("jobs:captions", args=[job.id, "vtt"])}"' in page


def test_a_video_without_captions_has_no_track_and_no_caption_file(owner_client, owner):
    job = finished_job(owner)
    assert owner_client.get(reverse("jobs:captions", args=[job.id, "vtt"])).status_code == 404
    assert "<track" not in owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()


@pytest.mark.parametrize("file_format", ["vtt", "srt", "txt"])
def test_outsider_gets_404_on_a_videos_captions(outsider_client, owner, file_format):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]])
    assert outsider_client.get(reverse("jobs:captions", args=[job.id, file_format])).status_code == 404


CORRECTED_VTT = (
    "WEBVTT\n\n00:00:00.300 --> 00:00:01.500\nHello, students.\n\n00:00:02.000 --> 00:00:03.250\nLet us begin.\n"
)


def _edit(client, job, **fields):
    return client.post(reverse("jobs:edit_captions", args=[job.id]), fields)


def test_the_owner_corrects_the_captions_and_the_player_shows_the_correction(owner_client, owner):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]], captions_source="script")
    response = _edit(owner_client, job, captions=CORRECTED_VTT)
    assert response.status_code == 302 and response["Location"].endswith("#captions")
    served = owner_client.get(reverse("jobs:captions", args=[job.id, "srt"])).content.decode()
    assert [cue.text for cue in captions.parse(served)] == ["Hello, students.", "Let us begin."]
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "Sent by you" in page and "2 captions" in page and "Let us begin." in page


def test_an_srt_file_from_the_owners_computer_replaces_the_captions(owner_client, owner):
    job = finished_job(owner)
    srt_file = SimpleUploadedFile("lesson.srt", "1\n00:00:01,000 --> 00:00:02,500\n同学们好。\n".encode())
    assert _edit(owner_client, job, captions_file=srt_file).status_code == 302
    job.refresh_from_db()
    assert job.captions == [[1.0, 2.5, "同学们好。"]] and job.captions_source == "edited"
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert '<track kind="captions" default' in page


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nOops\n", "could not be read"),
        ("WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nBackwards\n", "Caption 1 ends before it starts."),
        ("WEBVTT\n\n00:00:30.000 --> 00:00:31.000\nLate\n", "starts after the video ends (9.7 s)"),
        ("just some words", "neither WebVTT nor SubRip"),
    ],
)
def test_captions_that_do_not_parse_are_refused_whole_and_the_old_ones_stay(owner_client, owner, sent, says):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]])
    response = _edit(owner_client, job, captions=sent)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-code="captions_invalid"' in page and says in page
    assert html.escape(sent.strip().split("\n")[-1]) in page  # what was typed is still there to correct
    job.refresh_from_db()
    assert job.captions == [[0.3, 1.5, "Hello, class."]]


def test_a_captions_file_that_is_not_utf8_is_refused(owner_client, owner):
    job = finished_job(owner)
    latin1 = SimpleUploadedFile("old.srt", "1\n00:00:01,000 --> 00:00:02,000\nCafé\n".encode("latin-1"))
    response = _edit(owner_client, job, captions_file=latin1)
    assert response.status_code == 400 and "UTF-8" in response.content.decode()
    assert Job.objects.get(pk=job.pk).captions == []


def test_a_video_still_rendering_takes_no_captions(owner_client, owner):
    job = finished_job(owner, status=Job.Status.RUNNING, video=None)
    assert _edit(owner_client, job, captions=CORRECTED_VTT).status_code == 409
    assert Job.objects.get(pk=job.pk).captions == []


def test_the_owner_removes_the_captions(owner_client, owner):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]], captions_source="script")
    owner_client.post(reverse("jobs:delete_captions", args=[job.id]))
    assert owner_client.get(reverse("jobs:captions", args=[job.id, "vtt"])).status_code == 404
    assert "This video has no captions yet." in owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()


def test_a_shared_video_plays_with_its_captions_until_the_link_is_revoked(owner_client, owner, client):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]], captions_language="en")
    link = sharing.create(job, 7)
    page = client.get(reverse("shared_video", args=[link.token])).content.decode()
    track = reverse("shared_video_captions", args=[link.token])
    assert f'<track kind="captions" default src="{track}" srclang="en"' in page
    assert captions.parse(client.get(track).content.decode()) == [captions.Cue(0.3, 1.5, "Hello, class.")]
    sharing.revoke(link)
    assert client.get(track).status_code == 404


@pytest.mark.parametrize(
    "action", ["jobs:edit_captions", "jobs:make_captions", "jobs:delete_captions", "jobs:burn_in_captions"]
)
def test_outsider_gets_404_and_changes_nothing(outsider_client, owner, action):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]])
    assert outsider_client.post(reverse(action, args=[job.id]), {"captions": CORRECTED_VTT}).status_code == 404
    job.refresh_from_db()
    assert job.captions == [[0.3, 1.5, "Hello, class."]] and job.captions_status == job.burned_in_status == ""


SPOKEN = "Good morning, class. Today we learn how plants make sugar from light."


def _talking_video(tmp_path, text: str = SPOKEN) -> tuple[bytes, list[captions.Cue], float]:
    """An MP4 whose sound track is this text said in English, and the voice's own caption timings. espeak-ng says it
    the same way every time (Piper's voice varies a little from run to run), so what is heard is the same too."""
    said = speech.speak(speech.prepare(text, "en-espeak", 1.0))
    path = tmp_path / "talk.mp4"
    writer = media.Mp4Writer(path, 64, 64, 25, audio_rate=said.sample_rate)
    seconds = len(said.samples) / said.sample_rate
    for _ in range(round(seconds * 25)):
        writer.write_frame(np.zeros((64, 64, 3), np.uint8))
    writer.write_audio((said.samples[np.newaxis, :] / 32768).astype(np.float32))  # int16 to the encoder's floats
    writer.close()
    return path.read_bytes(), said.cues, seconds


def _make(client, job, transcript=""):
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        response = client.post(reverse("jobs:make_captions", args=[job.id]), {"transcript": transcript})
    assert response.status_code == 302
    return sent


def test_captions_are_timed_to_the_videos_speech_with_the_owners_transcript(owner_client, owner, tmp_path):
    video, voice_cues, seconds = _talking_video(tmp_path)
    job = finished_job(owner, video=video, output_duration_seconds=seconds)
    assert len(_make(owner_client, job, SPOKEN)) == 1  # one message for a worker, once the request commits
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert 'data-status="making"' in page and "Make captions from the speech" not in page

    assert job_captions.make(job.pk, SPOKEN) == "made"  # the worker's own code
    job.refresh_from_db()
    assert job.captions_source == "aligned" and job.captions_language == "en" and job.captions_status == ""
    made = job_captions.cues(job)
    assert [cue.text for cue in made] == [cue.text for cue in voice_cues]
    for heard, spoken in zip(made, voice_cues, strict=True):
        assert abs(heard.start - spoken.start) <= 0.04 and abs(heard.end - spoken.end) <= 0.04, (heard, spoken)
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "Timed from your transcript" in page and '<track kind="captions"' in page


def test_without_a_transcript_the_words_are_recognised(owner_client, owner, tmp_path):
    video, _voice_cues, seconds = _talking_video(tmp_path)
    job = finished_job(owner, video=video, output_duration_seconds=seconds)
    _make(owner_client, job)
    assert job_captions.make(job.pk, "") == "made"
    job.refresh_from_db()
    made = job_captions.cues(job)
    heard = set(" ".join(cue.text for cue in made).lower().split())
    assert job.captions_source == "recognised" and job.captions_language == "en"
    # Recognition is not dictation: some words are misheard, but what it hears is timed within the speech.
    assert len(heard & set(SPOKEN.lower().replace(",", "").replace(".", "").split())) >= 2, heard
    assert all(0 < cue.start < cue.end <= seconds for cue in made)


def test_a_transcript_of_other_words_fails_with_its_reason_and_keeps_the_old_captions(owner_client, owner, tmp_path):
    video, _voice_cues, seconds = _talking_video(tmp_path)
    job = finished_job(owner, video=video, output_duration_seconds=seconds, captions=[[0.3, 1.5, "Hello, class."]])
    wrong = "The quarterly report shows revenue growth in every region of the company this year."
    _make(owner_client, job, wrong)
    assert job_captions.make(job.pk, wrong) == "failed"
    job.refresh_from_db()
    assert job.captions_status == "failed" and job.captions_error_code == "transcript_mismatch"
    assert job.captions == [[0.3, 1.5, "Hello, class."]]
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert 'data-code="transcript_mismatch"' in page


def test_a_second_request_while_one_is_being_made_is_refused(owner_client, owner):
    job = finished_job(owner)
    _make(owner_client, job)
    assert len(_make(owner_client, job)) == 0
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "Captions are already being made for this video." in page


def test_a_broker_that_does_not_answer_makes_the_request_fail_with_its_reason(owner_client, owner, monkeypatch):
    pool = dramatiq.get_broker().client.connection_pool
    monkeypatch.setitem(pool.connection_kwargs, "port", _closed_port())  # Redis stops answering
    pool.reset()
    job = finished_job(owner)
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            owner_client.post(reverse("jobs:make_captions", args=[job.id]))
    finally:
        monkeypatch.undo()
        pool.reset()
    job.refresh_from_db()
    assert job.captions_status == "failed" and job.captions_error_code == "queue_unavailable"
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    assert "Make captions from the speech" in page  # the owner may try again


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_owner_gets_a_copy_with_the_captions_burned_in_until_they_change(owner_client, owner, tmp_path):
    video, voice_cues, seconds = _talking_video(tmp_path)
    job = finished_job(
        owner, video=video, output_duration_seconds=seconds, captions=[cue.as_list() for cue in voice_cues]
    )
    with TestCase.captureOnCommitCallbacks(execute=False) as sent:
        owner_client.post(reverse("jobs:burn_in_captions", args=[job.id]))
    assert len(sent) == 1
    assert 'data-status="burning"' in owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    before = User.objects.get(pk=owner.pk).storage_used_bytes

    assert job_captions.burn_in(job.pk) == "burned"  # the worker's own code
    job.refresh_from_db()
    assert storage_has(job.burned_in.name) and job.burned_in_bytes > 0
    assert User.objects.get(pk=owner.pk).storage_used_bytes == before + job.burned_in_bytes
    page = owner_client.get(reverse("jobs:detail", args=[job.id])).content.decode()
    link = re.search(r'href="([^"]+)\?download=1">Download MP4 with the captions burned in', page)[1]
    copy = Client().get(link + "?download=1")  # a signed link, like the video's own
    assert copy["Content-Type"] == "video/mp4" and "(captions).mp4" in copy["Content-Disposition"]
    copied = tmp_path / "copy.mp4"
    copied.write_bytes(b"".join(copy.streaming_content))
    original = tmp_path / "original.mp4"
    original.write_bytes(video)
    assert media.probe_output(copied).frames == media.probe_output(original).frames
    middle = round((voice_cues[0].start + voice_cues[0].end) / 2 * 25)
    drawn = list(media.iter_video_frames(copied))[middle]
    assert drawn[-32:].mean() > 5 and list(media.iter_video_frames(original))[middle][-32:].mean() < 1  # text

    name = job.burned_in.name
    with TestCase.captureOnCommitCallbacks(execute=True):
        _edit(owner_client, job, captions=CORRECTED_VTT)  # the copy shows the old captions: it goes
    job.refresh_from_db()
    assert not job.burned_in and not storage_has(name)
    assert User.objects.get(pk=owner.pk).storage_used_bytes == before


def test_captions_cannot_be_burned_into_a_video_without_any(owner_client, owner):
    job = finished_job(owner)
    response = owner_client.post(reverse("jobs:burn_in_captions", args=[job.id]), follow=True)
    assert "Add captions to the video first, then burn them in." in response.content.decode()
    assert Job.objects.get(pk=job.pk).burned_in_status == ""


def test_deleting_the_video_deletes_its_captioned_copy(owner_client, owner):
    job = finished_job(owner, captions=[[0.3, 1.5, "Hello, class."]])
    name = default_storage.save("renders/copy.mp4", ContentFile(b"copy"))
    Job.objects.filter(pk=job.pk).update(burned_in=name, burned_in_bytes=4)
    with TestCase.captureOnCommitCallbacks(execute=True):
        owner_client.post(reverse("jobs:delete", args=[job.id]))
    assert not Job.objects.filter(pk=job.pk).exists() and not storage_has(name)
