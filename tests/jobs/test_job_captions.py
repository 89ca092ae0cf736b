"""A video's captions: WebVTT for the player's <track>, SubRip to download; the owner's only."""

import pytest
from django.urls import reverse

from renderer import captions
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
