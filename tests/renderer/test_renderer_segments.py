"""Long audio: planned at pauses, rendered part by part, joined without re-encoding the video."""

import av
import numpy as np
import pytest
import soundfile
from renderer_inputs import PORTRAIT, SPEECH

import renderer
from renderer.animator import blink_closure
from renderer.media import iter_video_frames, probe_output


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    directory = tmp_path_factory.mktemp("parts")
    plan = renderer.plan_segments(SPEECH, max_seconds=4.0)
    results = [
        renderer.render(PORTRAIT, SPEECH, directory / f"part-{i}.mp4", {"resolution": 256}, start=s.start, end=s.end)
        for i, s in enumerate(plan)
    ]
    joined = renderer.concat([r.output_path for r in results], directory / "joined.mp4")
    return plan, results, joined


def test_plan_cuts_at_frame_boundaries_and_covers_everything(parts):
    plan, _, _ = parts
    assert len(plan) >= 2 and plan[0].start == 0.0
    assert all(a.end == b.start for a, b in zip(plan, plan[1:], strict=False))
    assert all(abs(s.end * 25 - round(s.end * 25)) < 1e-9 for s in plan[:-1])
    assert all(s.duration <= 4.0 for s in plan)
    assert plan[-1].end == pytest.approx(9.71875, abs=1e-6)


def _levels_every_10_ms(path) -> np.ndarray:
    samples, rate = soundfile.read(path, dtype="float32")
    hop = rate // 100
    hops = samples[: len(samples) // hop * hop].reshape(-1, hop)
    return 10 * np.log10(np.mean(hops**2, axis=1) + 1e-10)


def test_cuts_fall_in_pauses(parts):
    plan, _, _ = parts
    levels = _levels_every_10_ms(SPEECH)
    loud = np.percentile(levels, 95)
    for cut in (s.end for s in plan[:-1]):
        around = levels[int(cut * 100) - 5 : int(cut * 100) + 5]
        assert around.max() < loud - 20, f"the cut at {cut:.2f} s is inside speech"


def test_short_audio_is_one_segment():
    assert renderer.plan_segments(SPEECH, max_seconds=60) == [renderer.Segment(0.0, pytest.approx(9.71875))]


def test_joined_video_lasts_as_long_as_the_audio(parts):
    plan, results, joined = parts
    probe = probe_output(joined.output_path)
    assert joined.frames == probe.frames == sum(r.frames for r in results) == int(np.ceil(plan[-1].end * 25 - 1e-6))
    assert abs(probe.video_duration - plan[-1].end) <= 1 / 25
    assert abs(probe.audio_duration - plan[-1].end) <= 0.005, "AAC padding of each part must not pile up"
    data = joined.output_path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    with av.open(str(joined.output_path)) as container:
        assert "AI-generated" in container.metadata["comment"]


def test_no_visible_jump_at_the_joins(parts):
    plan, _, joined = parts
    frames = [f.astype(np.int16) for f in iter_video_frames(joined.output_path)]
    steps = np.array([np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)])
    for cut in plan[:-1]:
        index = round(cut.end * 25)
        assert steps[index - 1] <= 4 * np.median(steps) + 1.0, f"jump at the join at {cut.end:.2f} s"


def test_blinks_and_motion_depend_on_absolute_time_only():
    times = np.arange(0, 30, 0.04)
    assert [blink_closure(t, 5) for t in times] == [blink_closure(t, 5) for t in times]
    blinks = [t for t in times if blink_closure(t, 5) == 1.0]
    starts = [t for i, t in enumerate(blinks) if i == 0 or t - blinks[i - 1] > 0.5]
    gaps = np.diff(starts)
    assert len(starts) >= 5 and gaps.min() >= 1.9 and gaps.max() <= 6.1


def test_parts_of_different_sizes_are_refused(parts, tmp_path):
    _, results, _ = parts
    other = renderer.render(PORTRAIT, SPEECH, tmp_path / "big.mp4", {"resolution": 384}, end=1.0)
    with pytest.raises(renderer.RenderError) as failure:
        renderer.concat([results[0].output_path, other.output_path], tmp_path / "bad.mp4")
    assert failure.value.code == "concat_incompatible"
