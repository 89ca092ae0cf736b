"""Speech from a script (renderer.speech): the voices say it, and every caption sits on the speech it shows."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from renderer import captions, speech
from renderer.speech import script

FRAME_SECONDS = 1 / 25  # one video frame: how far a caption may sit from its speech
LECTURE = """Good morning, everyone. Today we talk about photosynthesis, the way plants make their own food.

Plants take in water through their roots and carbon dioxide through tiny openings in their leaves, and with the
energy of sunlight they turn both into glucose and oxygen.


Any questions? See you next week."""

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (make test)")


def _speech_regions(samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """Where there is speech, found on the audio alone (10 ms windows above -45 dB of the loudest, gaps of 100 ms
    or more between regions)."""
    window = sample_rate // 100
    frames = samples[: len(samples) // window * window].astype(np.float32).reshape(-1, window)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-9)
    loud = np.flatnonzero(level > level.max() - 45)
    regions: list[list[int]] = []
    for index in loud:
        if regions and index - regions[-1][1] <= 10:
            regions[-1][1] = index
        else:
            regions.append([index, index])
    return [(start * window / sample_rate, (end + 1) * window / sample_rate) for start, end in regions]


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    said = speech.speak(speech.prepare(LECTURE, "en-joe"))
    path = tmp_path_factory.mktemp("speech") / "lecture.flac"
    said.write_flac(path)
    return said, path


def test_every_caption_starts_and_ends_within_a_frame_of_its_speech(lecture):
    said, path = lecture
    samples, sample_rate = soundfile.read(path, dtype="int16")  # what was stored, not what was kept in memory
    regions = _speech_regions(samples, sample_rate)
    assert len(said.cues) >= 5
    for cue in said.cues:
        inside = [region for region in regions if region[1] > cue.start - FRAME_SECONDS and region[0] < cue.end]
        assert inside, f"no speech under {cue}"
        assert abs(inside[0][0] - cue.start) <= FRAME_SECONDS, (cue, inside[0])
        assert abs(inside[-1][1] - cue.end) <= FRAME_SECONDS, (cue, inside[-1])
    for start, end in regions:  # and no speech goes uncaptioned
        assert any(cue.start - FRAME_SECONDS <= start and end <= cue.end + FRAME_SECONDS for cue in said.cues)


def test_the_captions_read_the_script_in_order(lecture):
    said, _path = lecture
    shown = " ".join(" ".join(cue.text.split()) for cue in said.cues)
    assert shown == " ".join(LECTURE.split())
    assert all(len(line) <= script.LINE_WIDTH for cue in said.cues for line in cue.text.split("\n"))
    assert all(len(cue.text.split("\n")) <= 2 for cue in said.cues)
    assert [cue.start for cue in said.cues] == sorted(cue.start for cue in said.cues)


def test_blank_lines_pause_longer_than_a_sentence_end(lecture):
    said, _path = lecture
    gaps = {
        said.cues[index].text.split("\n")[-1][-9:]: said.cues[index + 1].start - said.cues[index].end
        for index in range(len(said.cues) - 1)
    }
    after_sentence, after_paragraph, after_two_blank_lines = gaps["everyone."], gaps["own food."], gaps["d oxygen."]
    assert after_sentence < after_paragraph < after_two_blank_lines
    assert after_two_blank_lines >= 1.5


def test_the_estimate_before_speaking_is_near_the_spoken_length(lecture):
    said, _path = lecture
    estimate = speech.prepare(LECTURE, "en-joe").estimated_seconds
    assert abs(estimate - said.duration_seconds) / said.duration_seconds < 0.25


def test_a_faster_rate_says_it_in_less_time():
    text = "The quick brown fox jumps over the lazy dog. It does so twice."
    normal = speech.speak(speech.prepare(text, "en-joe", 1.0)).duration_seconds
    fast = speech.speak(speech.prepare(text, "en-joe", 1.5)).duration_seconds
    assert 0.55 < fast / normal < 0.8


@needs_espeak
def test_mandarin_is_cut_into_captions_without_spaces():
    sentence = "植物利用阳光、水和二氧化碳，在叶子里的叶绿体中制造葡萄糖和氧气，氧气被释放到空气中，葡萄糖让植物生长。"
    said = speech.speak(speech.prepare(f"同学们好。{sentence}\n\n有问题吗？", "zh-cmn"))
    texts = [cue.text for cue in said.cues]
    assert texts[0] == "同学们好。" and texts[-1] == "有问题吗？"
    assert "".join("".join(text.split("\n")) for text in texts[1:-1]) == sentence
    assert len(texts) > 3  # the long sentence became several captions, cut at its commas
    assert all(" " not in text for text in texts)
    assert said.duration_seconds > 5


@pytest.mark.parametrize(
    ("text", "voice", "code"),
    [
        ("", "en-joe", "empty_script"),
        (" \n\n\t ", "en-joe", "empty_script"),
        ("Hello 😀 world.", "en-joe", "unsupported_characters"),
        ("Привет, класс.", "en-joe", "unsupported_characters"),
        ("你好。", "en-joe", "unsupported_characters"),
        ("Bell\x07 here.", "en-joe", "unsupported_characters"),
        ("x" * (script.MAX_CHARACTERS + 1), "en-joe", "script_too_long"),
        ("Hello.", "klingon", "unknown_voice"),
    ],
)
def test_a_script_the_voice_cannot_say_is_refused_with_its_reason(text, voice, code):
    with pytest.raises(speech.ScriptError) as refused:
        speech.prepare(text, voice)
    assert refused.value.code == code
    assert refused.value.message


def test_the_refusal_names_the_characters_and_their_lines():
    with pytest.raises(speech.ScriptError) as refused:
        speech.prepare("Fine here.\nBut not ☃ or \x07 here.", "en-joe")
    assert refused.value.details["characters"] == ["“☃”", "U+0007"]
    assert refused.value.details["lines"] == [2, 2]
    assert "line 2" in refused.value.message


@pytest.mark.parametrize("rate", [0.2, 2.5])
def test_a_rate_out_of_range_is_refused(rate):
    with pytest.raises(speech.ScriptError) as refused:
        speech.prepare("Hello.", "en-joe", rate)
    assert (refused.value.code, refused.value.field) == ("invalid_parameter", "rate")


def test_prices_and_sums_are_said_not_refused():
    assert speech.prepare("It costs $5 + 20% tax, about €6.", "en-joe").units


def test_a_voice_whose_engine_is_missing_says_so(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(speech.ScriptError) as refused:
        speech.prepare("Bonjour.", "fr-espeak")
    assert refused.value.code == "voice_not_installed"


@pytest.mark.slow
def test_the_command_line_writes_speech_and_both_caption_files(tmp_path):
    (tmp_path / "script.txt").write_text("Hello, class. This is the first lesson.", encoding="utf-8")
    finished = subprocess.run(
        [sys.executable, "-m", "renderer", "speak", str(tmp_path / "script.txt"), str(tmp_path / "lesson")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "RTF" in finished.stdout
    info = soundfile.info(tmp_path / "lesson.flac")
    cues = captions.parse((tmp_path / "lesson.vtt").read_text(encoding="utf-8"), info.duration)
    assert cues == captions.parse((tmp_path / "lesson.srt").read_text(encoding="utf-8"), info.duration)
    assert [cue.text for cue in cues] == ["Hello, class.", "This is the first lesson."]


@pytest.mark.slow
def test_the_command_line_refuses_a_bad_script_with_its_code(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "renderer", "speak", "-", str(tmp_path / "x")],
        input="🙂",
        capture_output=True,
        text=True,
    )
    assert finished.returncode == 2
    assert "unsupported_characters" in finished.stderr
    assert not list(tmp_path.iterdir())
