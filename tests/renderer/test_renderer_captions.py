"""Captions files (renderer.captions): WebVTT and SubRip written and read back, and broken files refused whole."""

import pytest
import srt
import webvtt

from renderer import captions
from renderer.captions import Cue

CUES = [
    Cue(0.3, 1.562, "Good morning, class."),
    Cue(1.962, 5.818, "Today we look at photosynthesis, the\nway plants turn light into sugar."),
    Cue(3605.25, 3607.0, "同学们好。"),
]


def test_webvtt_is_what_a_player_reads_and_comes_back_the_same():
    written = captions.to_webvtt(CUES)
    assert written.startswith("WEBVTT\n")
    assert "00:00:01.962 --> 00:00:05.818\nToday we look" in written
    assert "01:00:05.250 --> 01:00:07.000\n同学们好。" in written
    assert [caption.text for caption in webvtt.from_string(written).captions] == [cue.text for cue in CUES]
    assert captions.parse(written) == CUES


def test_subrip_is_numbered_with_commas_and_comes_back_the_same():
    written = captions.to_srt(CUES)
    assert written.startswith("1\n00:00:00,300 --> 00:00:01,562\nGood morning, class.\n\n2\n")
    assert len(list(srt.parse(written))) == 3
    assert captions.parse(written) == CUES


def test_files_from_windows_editors_are_read():
    written = "\ufeff" + captions.to_srt(CUES).replace("\n", "\r\n")
    assert captions.parse(written) == CUES


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no captions"),
        ("just some words", "neither WebVTT nor SubRip"),
        ("1\n00:00:01,000 --> soon\nhello\n", "neither WebVTT nor SubRip"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n\nbad --> x\nyo\n", "does not parse"),
        ("WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nhi\n", "no captions"),
        ("WEBVTT\n", "no captions"),
        ("WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nhi\n", "Caption 1 ends before it starts"),
        ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:03,000 --> 00:00:03,000\nnow\n", "Caption 2 ends"),
        ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + "x" * 501 + "\n", "longer than 500"),
        ("WEBVTT\n\n00:01:01.000 --> 00:01:02.000\nlate\n", "after the video ends"),
    ],
)
def test_a_file_that_does_not_parse_is_refused_with_what_broke(text, says):
    with pytest.raises(captions.CaptionError) as refused:
        captions.parse(text, duration_seconds=60.0)
    assert refused.value.code == "captions_invalid"
    assert says in refused.value.message


def test_a_huge_file_is_refused_before_it_is_read():
    with pytest.raises(captions.CaptionError, match="at most"):
        captions.parse("WEBVTT\n" + "x" * captions.MAX_FILE_CHARACTERS)


def test_cues_are_kept_as_small_lists_and_back():
    assert [Cue.from_list(cue.as_list()) for cue in CUES] == CUES
