"""Captions for uploaded speech (renderer.transcribe), on real speech: the project's own voices say a known text,
with caption cues timed on what they said, and the transcriber must find the same text at the same times.

The bounds are what a viewer notices: a caption edge one video frame (40 ms) from its speech; recognition that
gets most words of clear speech right (the neural voice measured 18-32% word errors, varying with the voice's own
randomness between runs; espeak-ng's formant voice is too far from the acoustic model's training speech to score).
"""

import shutil

import numpy as np
import pytest
import soundfile

from renderer import __main__ as command_line
from renderer import speech, transcribe
from renderer.speech import script

FRAME_SECONDS = 1 / 25
LECTURE = """Good morning, everyone. Today we talk about photosynthesis, the way plants make their own food.

Plants take in water through their roots and carbon dioxide through tiny openings in their leaves, and with the
energy of sunlight they turn both into glucose and oxygen.


Any questions? See you next week."""
# Words CMUdict lacks (invented names, numbers, symbols) at the edges of captions.
NAMES = """Zorbulax studied the effect of light on plants. In 1905, the Quixleton lab found something new.

Our guest today is Doctor Brindlewhump, who works on Vextorian grammar. It costs $5 + 20% tax."""
OTHER_WORDS = """The history of the railway begins with wooden tracks in mines, where horses pulled small carts of coal.
Steam engines came later, and soon trains carried passengers between the great cities of the north."""
LONGER = [
    "Plants take in water through their roots and carbon dioxide through tiny openings in their leaves.",
    "The green colour of a leaf comes from chlorophyll, a pigment that absorbs red and blue light and reflects "
    "green. Without it, the leaf could not capture the energy it needs.",
    "Animals depend on this process too. The oxygen we breathe was released by plants and algae, and the food "
    "we eat stores energy that first arrived as sunlight.",
    "Let us look at an experiment. Place a water plant under a lamp, and count the bubbles that rise from its "
    "stem. Move the lamp further away, and the bubbles slow down.",
    "Temperature matters as well. On a cold morning the reactions inside the leaf are slow, while on a warm "
    "afternoon they speed up, until the heat begins to damage the plant.",
    "Farmers use this knowledge every day. Greenhouses keep the air warm and rich in carbon dioxide, so that "
    "tomatoes and peppers grow faster than they would outside.",
]

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test)")
VOICES = ["en-joe", pytest.param("en-espeak", marks=needs_espeak)]


@pytest.fixture(scope="module")
def said():
    """Each text said once per voice for the whole module (the neural voice takes a second or two a text)."""
    cache: dict[tuple[str, str], speech.Speech] = {}

    def say(text: str, voice: str) -> speech.Speech:
        if (text, voice) not in cache:
            cache[text, voice] = speech.speak(speech.prepare(text, voice))
        return cache[text, voice]

    return say


def _as_float(speaking: speech.Speech) -> np.ndarray:
    return speaking.samples.astype(np.float32) / 32768


def _spoken_words(text: str) -> list[str]:
    return [word for word in ("".join(c for c in w.lower() if c.isalnum() or c == "'") for w in text.split()) if word]


def _word_error_rate(reference: list[str], heard: list[str]) -> float:
    distances = list(range(len(heard) + 1))
    for row, expected in enumerate(reference, start=1):
        diagonal, distances[0] = distances[0], row
        for column, word in enumerate(heard, start=1):
            diagonal, distances[column] = (
                distances[column],
                min(distances[column] + 1, distances[column - 1] + 1, diagonal + (expected != word)),
            )
    return distances[-1] / len(reference)


def _assert_timed_like(cues, spoken_cues, bound=FRAME_SECONDS):
    assert [cue.text for cue in cues] == [cue.text for cue in spoken_cues]
    for found, spoken in zip(cues, spoken_cues, strict=True):
        assert abs(found.start - spoken.start) <= bound, (found, spoken)
        assert abs(found.end - spoken.end) <= bound, (found, spoken)


@pytest.mark.parametrize("voice", VOICES)
def test_aligned_captions_show_the_transcript_within_a_frame_of_its_speech(said, voice):
    spoken = said(LECTURE, voice)
    cues = transcribe.align(_as_float(spoken), spoken.sample_rate, LECTURE)
    _assert_timed_like(cues, spoken.cues)
    assert all(len(line) <= script.LINE_WIDTH for cue in cues for line in cue.text.split("\n"))


@pytest.mark.parametrize("voice", VOICES)
def test_names_and_numbers_the_dictionary_lacks_are_timed_too(said, voice):
    spoken = said(NAMES, voice)
    # int16 samples at the voice's own rate are accepted as they are
    cues = transcribe.align(spoken.samples, spoken.sample_rate, NAMES)
    assert cues[0].text.startswith("Zorbulax") and "$5 + 20% tax." in cues[-1].text
    _assert_timed_like(cues, spoken.cues)


def test_numbers_are_read_as_words():
    assert transcribe.number_words("1905") == ["nineteen", "oh", "five"]
    assert transcribe.number_words("2024") == ["twenty", "twenty", "four"]
    assert transcribe.number_words("12345") == ["twelve", "thousand", "three", "hundred", "forty", "five"]
    assert transcribe.number_words("0") == ["zero"]


def test_recognition_finds_most_words_of_clear_speech(said):
    spoken = said(LECTURE, "en-joe")
    cues = transcribe.recognise(_as_float(spoken), spoken.sample_rate)
    heard = _spoken_words(" ".join(cue.text for cue in cues))
    assert _word_error_rate(_spoken_words(LECTURE), heard) <= 0.4, heard
    assert cues[0].text.startswith("Good morning")
    assert abs(cues[0].start - spoken.cues[0].start) <= FRAME_SECONDS
    assert abs(cues[-1].end - spoken.cues[-1].end) <= FRAME_SECONDS
    assert all(earlier.end <= later.start for earlier, later in zip(cues, cues[1:], strict=False))
    assert all(len(cue.text.split("\n")) <= 2 for cue in cues)
    assert all(len(line) <= script.LINE_WIDTH for cue in cues for line in cue.text.split("\n"))


def test_silence_has_no_speech_to_caption():
    silence = np.zeros(5 * 22_050, np.float32)
    for attempt in (lambda: transcribe.recognise(silence, 22_050), lambda: transcribe.align(silence, 22_050, LECTURE)):
        with pytest.raises(transcribe.NoSpeechError) as refused:
            attempt()
        assert refused.value.code == "no_speech_found" and not refused.value.retryable


def test_noise_has_no_speech_to_caption():
    noise = np.random.default_rng(7).normal(0, 0.1, 8 * 16_000).astype(np.float32)
    with pytest.raises(transcribe.NoSpeechError):
        transcribe.recognise(noise, 16_000)


def test_a_transcript_of_other_words_is_refused(said):
    spoken = said(LECTURE, "en-joe")
    with pytest.raises(transcribe.TranscriptMismatchError) as refused:
        transcribe.align(_as_float(spoken), spoken.sample_rate, OTHER_WORDS)
    assert refused.value.code == "transcript_mismatch" and not refused.value.retryable
    assert refused.value.as_dict()["field"] == "transcript"


@pytest.mark.parametrize("part", ["Good morning, everyone.", " ".join(LECTURE.split()[:25])])
def test_a_transcript_of_part_of_the_speech_is_refused(said, part):
    spoken = said(LECTURE, "en-joe")
    with pytest.raises(transcribe.TranscriptMismatchError, match="covers only"):
        transcribe.align(_as_float(spoken), spoken.sample_rate, part)


def test_a_transcript_with_no_words_is_refused(said):
    spoken = said(LECTURE, "en-joe")
    with pytest.raises(transcribe.TranscriptMismatchError):
        transcribe.align(_as_float(spoken), spoken.sample_rate, " — … ")


@needs_espeak
def test_minutes_of_speech_are_aligned_a_piece_at_a_time(said):
    text = "\n\n".join(LONGER * 3)
    assert len(text) > 2 * transcribe.PIECE_CHARACTERS  # more than one grammar, windows found as it goes
    spoken = said(text, "en-espeak")
    assert spoken.duration_seconds > 150
    cues = transcribe.align(_as_float(spoken), spoken.sample_rate, text)
    _assert_timed_like(cues, spoken.cues)


def test_the_command_line_writes_both_caption_files(said, tmp_path, capsys):
    spoken = said(LECTURE, "en-joe")
    spoken.write_flac(tmp_path / "lecture.flac")
    (tmp_path / "lecture.txt").write_text(LECTURE, encoding="utf-8")
    status = command_line.main(
        [
            "caption",
            str(tmp_path / "lecture.flac"),
            str(tmp_path / "out"),
            "--transcript",
            str(tmp_path / "lecture.txt"),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0 and "aligned:" in printed and "50 words" in printed and "RTF" in printed
    from renderer import captions

    written = captions.parse((tmp_path / "out.vtt").read_text(encoding="utf-8"))
    _assert_timed_like(written, spoken.cues)
    assert captions.parse((tmp_path / "out.srt").read_text(encoding="utf-8")) == written


def test_the_command_line_reports_a_refusal_with_its_code(tmp_path, capsys):
    soundfile.write(str(tmp_path / "silence.wav"), np.zeros(16_000 * 2, np.int16), 16_000)
    assert command_line.main(["caption", str(tmp_path / "silence.wav"), str(tmp_path / "out")]) == 2
    assert "error [no_speech_found]" in capsys.readouterr().err
