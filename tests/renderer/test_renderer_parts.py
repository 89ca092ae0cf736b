"""Parts of a lecture: each decodes only its own span of the audio, cuts fall on whole frames at any fps, and every
part opens the mouth against the whole audio's loudness, so nothing jumps at a join."""

import io

import av
import numpy as np
import pytest
import soundfile
from media import AUDIO_ENCODINGS
from renderer_inputs import SPEECH

import renderer
from renderer.media import AudioReader
from renderer.stages import analyse_audio, load_audio


@pytest.fixture(scope="module")
def lecture_40s():
    samples, rate = soundfile.read(SPEECH, dtype="float32")
    return np.tile(samples, 5)[: 40 * rate], rate


def _encode(samples: np.ndarray, rate: int, extension: str, path) -> None:
    container_format, codec, target_rate = AUDIO_ENCODINGS[extension]
    with av.open(str(path), "w", format=container_format) as output:
        stream = output.add_stream(codec, rate=target_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=target_rate)
        for piece in resampler.resample(frame) + resampler.resample(None):
            output.mux(stream.encode(piece))
        output.mux(stream.encode(None))


def _decoded_from_the_start(path) -> tuple[np.ndarray, int]:
    """Every sample, decoded plainly from the first packet (the reference a window must match)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        to_float = av.AudioResampler(format="fltp", layout="mono", rate=stream.codec_context.sample_rate)
        chunks = [out.to_ndarray()[0] for frame in container.decode(stream) for out in to_float.resample(frame)]
        return np.concatenate(chunks), stream.codec_context.sample_rate


@pytest.mark.parametrize("extension", sorted(AUDIO_ENCODINGS))
def test_a_window_far_into_the_audio_is_decoded_from_there_and_matches(extension, lecture_40s, tmp_path):
    path = tmp_path / f"lecture{extension}"
    _encode(*lecture_40s, extension, path)
    whole, rate = _decoded_from_the_start(path)
    start, end = 31.37, 36.37
    reader = AudioReader(path, start=start, end=end)
    window = np.concatenate([chunk[0] for chunk in reader])
    expected = whole[round(start * rate) : round(end * rate)]
    assert len(window) == len(expected) == reader.source_samples
    if extension in (".m4a", ".aac"):
        # AAC's noise substitution draws from a generator whose state a seek resets: inaudibly different noise.
        assert np.abs(window - expected).max() < 0.06 and np.corrcoef(window, expected)[0, 1] > 0.999
    else:
        assert np.array_equal(window, expected), f"max difference {np.abs(window - expected).max()}"
    assert reader.decoded_samples < (end - start + 3) * rate, "decoded from the start instead of seeking"


def test_the_first_seconds_and_a_whole_file_are_read_without_seeking(lecture_40s, tmp_path):
    path = tmp_path / "lecture.wav"
    soundfile.write(path, *lecture_40s)
    reader = AudioReader(path, start=0.5, end=2.0)
    assert sum(chunk.shape[1] for chunk in reader) == reader.source_samples == 1.5 * lecture_40s[1]
    whole = AudioReader(path)
    assert sum(chunk.shape[1] for chunk in whole) == whole.source_samples == len(lecture_40s[0])


@pytest.mark.parametrize("fps", [24, 25, 30])
def test_parts_have_whole_frames_at_the_jobs_fps(fps):
    plan = renderer.plan_parts(SPEECH, max_seconds=3.0, fps=fps)
    assert len(plan.segments) >= 3
    for segment in plan.segments[:-1]:
        frames = segment.end * fps
        assert abs(frames - round(frames)) < 1e-6, (fps, segment)
    assert plan.segments[-1].end == pytest.approx(plan.duration)


def test_every_part_opens_the_mouth_against_the_whole_audios_loudness(tmp_path):
    """A lecture whose second half is spoken 14 dB more quietly: the quiet part's mouth must open less, exactly as
    in one render of the whole file, not be turned up to the loud part's level."""
    samples, rate = soundfile.read(SPEECH, dtype="float32")
    lecture = np.concatenate([samples, samples * 0.2])
    path = tmp_path / "loud-then-quiet.wav"
    soundfile.write(path, lecture, rate)
    plan = renderer.plan_parts(path, max_seconds=12.0, fps=25)
    assert len(plan.segments) == 2
    whole = analyse_audio(load_audio(path), 25)
    assert plan.loudness_reference_db == pytest.approx(whole.loudness_ref_db, abs=1e-4)

    quiet = plan.segments[1]
    shared = analyse_audio(load_audio(path, quiet.start, quiet.end), 25, plan.loudness_reference_db)
    first = shared.first_frame
    np.testing.assert_allclose(
        shared.drivers.mouth_open, whole.drivers.mouth_open[first : first + shared.frame_count], atol=1e-5
    )
    on_its_own = analyse_audio(load_audio(path, quiet.start, quiet.end), 25)
    assert on_its_own.drivers.mouth_open.mean() > 1.5 * shared.drivers.mouth_open.mean(), "the old behaviour"


def test_a_lectures_decode_work_grows_linearly(lecture_40s, tmp_path):
    path = tmp_path / "lecture.flac"
    buffer = io.BytesIO()
    soundfile.write(buffer, *lecture_40s, format="FLAC")
    path.write_bytes(buffer.getvalue())
    plan = renderer.plan_parts(path, max_seconds=4.0)
    decoded = 0
    for segment in plan.segments:
        reader = AudioReader(path, start=segment.start, end=segment.end)
        for _ in reader:
            pass
        decoded += reader.decoded_samples
    # Each part decodes its span and a margin before it; never everything before it (that would be ~n²/2).
    assert decoded < len(lecture_40s[0]) + len(plan.segments) * 2.5 * lecture_40s[1]
