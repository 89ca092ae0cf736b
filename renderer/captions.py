"""Captions: cues timed on a video's audio, written as WebVTT (the player's <track>) or SubRip (.srt, for editors
and course platforms), and read back from either when an owner sends corrected captions.

WebVTT is read and written by webvtt-py, SubRip by srt; both read strictly, and what they let through is checked
here too (every cue ends after it starts, has text, and lies within the video), so a file that does not parse is
refused whole with the line that broke it, never half-imported.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from renderer.errors import RenderError

MAX_CUES = 5_000
MAX_CUE_CHARACTERS = 500
MAX_FILE_CHARACTERS = 500_000


class CaptionError(RenderError):
    code = "captions_invalid"


@dataclass(frozen=True)
class Cue:
    start: float  # seconds from the start of the video
    end: float
    text: str

    def as_list(self) -> list:
        return [round(self.start, 3), round(self.end, 3), self.text]

    @classmethod
    def from_list(cls, stored: list) -> Cue:
        return cls(float(stored[0]), float(stored[1]), str(stored[2]))


def to_webvtt(cues: list[Cue]) -> str:
    captions = [
        webvtt.Caption(
            start=str(webvtt.models.Timestamp.from_seconds(round(cue.start, 3))),
            end=str(webvtt.models.Timestamp.from_seconds(round(cue.end, 3))),
            text=cue.text,
        )
        for cue in cues
    ]
    return webvtt.WebVTT(captions=captions).content


def _milliseconds(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=round(seconds * 1000))


def to_srt(cues: list[Cue]) -> str:
    return srt.compose(
        [
            srt.Subtitle(index, _milliseconds(cue.start), _milliseconds(cue.end), cue.text)
            for index, cue in enumerate(cues, start=1)
        ]
    )


def parse(text: str, duration_seconds: float | None = None) -> list[Cue]:
    """Cues from a WebVTT or SubRip file (told apart by WebVTT's header), checked whole."""
    if len(text) > MAX_FILE_CHARACTERS:
        raise CaptionError(f"A captions file may be at most {MAX_FILE_CHARACTERS} characters.")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues = _parse_webvtt(text) if text.lstrip().startswith("WEBVTT") else _parse_srt(text)
    if not cues:
        raise CaptionError("The file holds no captions: write at least one cue (a time line, then its text).")
    if len(cues) > MAX_CUES:
        raise CaptionError(f"A video may have at most {MAX_CUES} captions.")
    for number, cue in enumerate(cues, start=1):
        if not cue.text.strip():
            raise CaptionError(f"Caption {number} has no text.")
        if len(cue.text) > MAX_CUE_CHARACTERS:
            raise CaptionError(f"Caption {number} is longer than {MAX_CUE_CHARACTERS} characters.")
        if cue.end <= cue.start:
            raise CaptionError(f"Caption {number} ends before it starts.")
        if duration_seconds is not None and cue.start >= duration_seconds:
            raise CaptionError(f"Caption {number} starts after the video ends ({duration_seconds:.1f} s).")
    return cues


def _parse_webvtt(text: str) -> list[Cue]:
    try:
        document = webvtt.WebVTT.from_buffer(io.StringIO(text), format="vtt", strict=True)
    except (MalformedCaptionError, MalformedFileError) as error:
        raise CaptionError(f"This WebVTT file does not parse: {error}.") from None
    timed_lines = sum(1 for line in text.split("\n") if "-->" in line)
    if timed_lines != len(document.captions):
        raise CaptionError("This WebVTT file does not parse: a time line could not be read.")
    return [
        Cue(caption.start_time.in_milliseconds() / 1000, caption.end_time.in_milliseconds() / 1000, caption.text)
        for caption in document.captions
    ]


def _parse_srt(text: str) -> list[Cue]:
    try:
        subtitles = list(srt.parse(text, ignore_errors=False))
    except (srt.SRTParseError, ValueError) as error:
        raise CaptionError(f"This is neither WebVTT nor SubRip that parses: {error}.") from None
    return [Cue(item.start.total_seconds(), item.end.total_seconds(), item.content) for item in subtitles]
