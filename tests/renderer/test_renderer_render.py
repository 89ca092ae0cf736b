"""The builtin backend end to end, judged by measuring the output file."""

import av
import cv2
import numpy as np
import pytest
from renderer_inputs import PORTRAIT, SPEECH

import renderer
from renderer.face import LOWER_INNER_LIP, UPPER_INNER_LIP, FaceTracker, detect_faces
from renderer.media import AudioReader, Mp4Writer, iter_video_frames, probe_output
from renderer.qualify import measure as quality


def test_video_lasts_exactly_as_long_as_the_audio(rendered):
    probe = probe_output(rendered.output_path)
    assert probe.frames == int(np.ceil(rendered.audio_duration * 25 - 1e-6))
    assert abs(probe.video_duration - rendered.audio_duration) <= 1 / 25
    assert abs(probe.audio_duration - rendered.audio_duration) <= 0.005, "no audio is cut or padded"


def test_browser_playable_mp4_with_faststart(rendered):
    with av.open(str(rendered.output_path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.codec_context.pix_fmt, audio.codec_context.name) == (
            "h264",
            "yuv420p",
            "aac",
        )
        assert video.codec_context.width % 2 == 0 and video.codec_context.height % 2 == 0
    data = rendered.output_path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "the index comes first so playback starts while downloading"
    probe = probe_output(rendered.output_path)
    assert min(probe.width, probe.height) == 256
    assert rendered.poster_path.exists()


@pytest.mark.slow
def test_mouth_moves_with_the_speech(measured):
    assert measured.correlation >= 0.6
    assert abs(measured.offset_frames) <= 1
    assert measured.mouth_closed_in_silence >= 0.8
    assert measured.blank_frames == 0 and measured.longest_frozen_seconds < 1.0 and measured.faces_missing == 0


@pytest.mark.slow
def test_a_deliberately_shifted_video_is_detected(rendered, measured, tmp_path):
    shifted = tmp_path / "shifted.mp4"
    frames = list(iter_video_frames(rendered.output_path))
    delayed = [frames[0]] * 2 + frames[:-2]  # the picture lags the sound by two frames
    height, width = frames[0].shape[:2]
    writer = Mp4Writer(shifted, width, height, 25, audio_rate=16000)
    for frame in delayed:
        writer.write_frame(frame)
    for chunk in AudioReader(rendered.output_path, rate=16000):
        writer.write_audio(chunk)
    writer.close()
    assert quality.measure(shifted).offset_frames == 2
    assert measured.offset_frames == 0


def test_open_mouth_has_a_dark_cavity_not_stretched_teeth(rendered, measured):
    loudest = int(np.argmax(measured.mouth_open))
    frame = list(iter_video_frames(rendered.output_path))[loudest]
    with FaceTracker() as tracker:
        face = tracker(frame)
    polygon = np.concatenate([face.points[UPPER_INNER_LIP], face.points[LOWER_INNER_LIP][::-1]]).astype(np.int32)
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [polygon], 255)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert mask.sum() > 0
    face_level = gray[y0:y1, x0:x1].mean()
    inside = gray[mask > 0]
    assert inside.mean() < 0.85 * face_level  # teeth and tongue show, but the mouth is mostly in shadow
    assert (inside < 0.4 * face_level).mean() > 0.1, "a dark cavity, not teeth stretched into the opening"


def test_progress_is_reported_and_ends_at_one(rendered):
    fractions = [fraction for fraction, _ in rendered.progress_reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"load_audio", "analyse_audio", "preprocess_image", "animate"} <= {s for _, s in rendered.progress_reports}


def test_cancel_stops_between_frames_and_leaves_no_file(tmp_path):
    output = tmp_path / "canceled.mp4"
    with pytest.raises(renderer.CanceledError):
        renderer.render(PORTRAIT, SPEECH, output, {"resolution": 256}, should_cancel=lambda: True)
    assert not output.exists()


def test_same_seed_same_video(tmp_path):
    first = renderer.render(PORTRAIT, SPEECH, tmp_path / "a.mp4", {"resolution": 256, "seed": 3}, end=2.0)
    second = renderer.render(PORTRAIT, SPEECH, tmp_path / "b.mp4", {"resolution": 256, "seed": 3}, end=2.0)
    other = renderer.render(PORTRAIT, SPEECH, tmp_path / "c.mp4", {"resolution": 256, "seed": 4}, end=2.0)
    a, b, c = (np.stack(list(iter_video_frames(r.output_path))) for r in (first, second, other))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_no_face(tmp_path):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    with pytest.raises(renderer.RenderError) as failure:
        renderer.render(wall, SPEECH, tmp_path / "out.mp4", {"resolution": 256})
    assert failure.value.code == "no_face" and not failure.value.retryable
    assert not (tmp_path / "out.mp4").exists()


def test_silent_audio(tmp_path):
    silent = tmp_path / "silent.wav"
    with av.open(str(silent), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 32000), np.int16), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(renderer.RenderError) as failure:
        renderer.render(PORTRAIT, silent, tmp_path / "out.mp4", {"resolution": 256})
    assert failure.value.code == "silent_audio"


def test_unreadable_audio(tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio" * 100)
    with pytest.raises(renderer.RenderError) as failure:
        renderer.render(PORTRAIT, junk, tmp_path / "out.mp4", {"resolution": 256})
    assert failure.value.code == "unreadable_audio"


def test_several_faces_animate_the_largest_and_say_so(tmp_path):
    portrait = cv2.imread(str(PORTRAIT))
    small = cv2.resize(portrait, None, fx=0.6, fy=0.6)
    canvas = np.full((portrait.shape[0], portrait.shape[1] + small.shape[1], 3), 200, np.uint8)
    canvas[:, : portrait.shape[1]] = portrait
    canvas[: small.shape[0], portrait.shape[1] :] = small
    group = tmp_path / "group.png"
    cv2.imwrite(str(group), canvas)
    assert len(detect_faces(canvas)) == 2
    check = renderer.find_face(group, {})
    assert check.faces_found == 2 and check.face_index == 0 and "2 faces" in check.warnings[0]
    assert renderer.find_face(group, {"face_index": 1}).face_index == 1
    with pytest.raises(renderer.RenderError) as failure:
        renderer.find_face(group, {"face_index": 2})
    assert failure.value.field == "face_index"


def test_unknown_and_unavailable_backends(tmp_path):
    with pytest.raises(renderer.RenderError) as unknown:
        renderer.render(PORTRAIT, SPEECH, tmp_path / "o.mp4", backend="magic")
    assert unknown.value.code == "invalid_parameter"
    with pytest.raises(renderer.RenderError) as unavailable:
        renderer.render(PORTRAIT, SPEECH, tmp_path / "o.mp4", backend="sonic")
    assert unavailable.value.code == "backend_unavailable" and "GPU" in unavailable.value.message


def test_every_output_is_labelled_ai_generated_and_free_videos_are_marked(rendered, tmp_path):
    with av.open(str(rendered.output_path)) as container:
        assert "AI-generated" in container.metadata["comment"]
    marked = renderer.render(PORTRAIT, SPEECH, tmp_path / "marked.mp4", {"resolution": 256}, end=1.0, watermark=True)
    plain_frame = next(iter_video_frames(rendered.output_path)).astype(np.int16)
    marked_frame = next(iter_video_frames(marked.output_path)).astype(np.int16)
    height, width = plain_frame.shape[:2]
    corner = np.abs(marked_frame - plain_frame)[int(height * 0.85) :, int(width * 0.4) :]
    rest = np.abs(marked_frame - plain_frame)[: int(height * 0.5)]
    assert corner.mean() > 5 * rest.mean() + 1, "the mark is in the lower right and nowhere else"


def test_a_small_face_in_a_large_picture_is_found_where_it_is(tmp_path):
    """A half-body or group-distance shot: the face is about 3.5 % of the picture's width (56 px of 1600)."""
    small = cv2.resize(cv2.imread(str(PORTRAIT)), None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
    canvas = np.full((1200, 1600, 3), 150, np.uint8)
    canvas[500 : 500 + small.shape[0], 1100 : 1100 + small.shape[1]] = small
    picture = tmp_path / "far.png"
    cv2.imwrite(str(picture), canvas)

    (face,) = detect_faces(canvas)
    x0, y0, x1, y1 = face.box
    assert 1100 < x0 < x1 < 1100 + small.shape[1] and 500 < y0 < y1 < 500 + small.shape[0]
    assert face.size >= 48
    assert renderer.find_face(picture, {"resolution": 256}).faces_found == 1
