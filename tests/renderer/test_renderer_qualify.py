"""The quality gate: real renders pass it, broken ones are refused by name, and its report is something to look at."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from renderer_inputs import FIXTURES

import renderer
from renderer.backends import builtin
from renderer.face import FaceTracker
from renderer.media import AudioReader, Mp4Writer, iter_video_frames
from renderer.qualify import cases as qualify_cases
from renderer.qualify import gate as qualify_gate
from renderer.qualify import measure as quality
from renderer.qualify.gate import Gate
from renderer.qualify.report import THUMB
from renderer.qualify.selftest import run_self_test, truncate

ROOT = Path(__file__).resolve().parents[2]


def qualify(*args):
    return subprocess.run(
        [sys.executable, "-m", "renderer", "qualify", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def qualification_dir(tmp_path):
    """A copy of the committed thresholds, baseline and results that a test may change."""
    return Path(shutil.copytree(qualify_gate.QUALIFICATION_DIR, tmp_path / "qualification"))


@pytest.mark.slow
def test_real_renders_pass_and_the_report_is_there_to_look_at(tmp_path):
    report = tmp_path / "report"
    result = qualify("--cases", "normal_speech,multi_segment", "--report", report)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: 2/2 cases passed" in result.stdout
    assert "multi_segment" in result.stdout and "in 3 parts" in result.stdout

    summary = json.loads((report / "report.json").read_text())
    assert summary["result"] == "passed" and summary["backend"] == "builtin" and summary["resolution"] == 256
    assert summary["renderer_version"] == builtin.VERSION
    speech = summary["cases"]["normal_speech"]
    assert speech["metrics"]["offset_frames"] == 0 and speech["metrics"]["correlation"] > 0.8
    assert speech["limits"]["offset_frames"] == {"max_abs": 1} and speech["baseline"]["correlation"] > 0.8
    assert summary["cases"]["multi_segment"]["segments"] == 3
    for case in summary["cases"].values():
        assert (report / case["video"]).stat().st_size > 10_000

    sheet = cv2.imread(str(report / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] >= 2 * THUMB and sheet.shape[1] >= 5 * THUMB
    first_thumbnail = sheet[60 : 60 + THUMB // 2, -5 * THUMB : -4 * THUMB]
    assert first_thumbnail.std() > 20, "the sheet shows frames, not empty cells"
    for name in ("normal_speech", "multi_segment"):
        plot = cv2.imread(str(report / summary["cases"][name]["plot"]))
        assert plot is not None and plot.shape[1] >= 900 and plot.shape[0] >= 400
        red = (plot[:, :, 2] > 180) & (plot[:, :, 1] < 80) & (plot[:, :, 0] < 80)
        assert red.sum() > 500, "the measured mouth opening is drawn"


@pytest.mark.slow
def test_a_broken_limit_fails_naming_case_and_metric(qualification_dir):
    thresholds = json.loads((qualification_dir / "thresholds.json").read_text())
    thresholds["case_limits"]["very_short"] = {"correlation": {"min": 0.99}}
    (qualification_dir / "thresholds.json").write_text(json.dumps(thresholds))
    baseline = json.loads((qualification_dir / "baseline-builtin.json").read_text())
    baseline["cases"]["very_short"]["mouth_closed_in_silence"] = 1.5
    (qualification_dir / "baseline-builtin.json").write_text(json.dumps(baseline))

    result = qualify("--cases", "very_short", "--qualification-dir", qualification_dir)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("FAIL very_short: correlation = 0.") and line.endswith("(limit >= 0.99)") for line in lines
    ), result.stdout
    assert any(
        line.startswith("FAIL very_short: mouth_closed_in_silence = ")
        and "(baseline 1.5, may drop at most 0.1)" in line
        for line in lines
    ), result.stdout
    assert "FAILED: 0/1 cases passed" in result.stdout


@pytest.mark.slow
def test_self_test_catches_a_two_frame_shift_and_a_truncation():
    result = qualify("--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "normal_speech, unchanged render: passes the gate" in result.stdout
    assert "picture shifted 2 frames late: caught" in result.stdout and "offset_frames = 2 " in result.stdout
    assert "cut 0.5 s short: caught" in result.stdout and "duration_error_frames = -1" in result.stdout
    assert "self-test passed" in result.stdout


def test_a_clip_shorter_than_the_lag_window_is_measured(rendered, tmp_path):
    """A few frames (the self-test's cut of a very short case) get a report, not a crash in the correlation."""
    frames = quality.MAX_LAG_FRAMES - 2
    seconds_to_cut = rendered.audio_duration - frames / 25
    report = quality.measure(truncate(rendered.output_path, tmp_path / "few.mp4", seconds=seconds_to_cut))
    assert report.frames == frames and -1.0 <= report.best_lag_correlation <= 1.0


@pytest.mark.slow
def test_self_test_fails_when_the_gate_is_too_lax(qualification_dir, tmp_path, capsys):
    thresholds = json.loads((qualification_dir / "thresholds.json").read_text())
    thresholds["limits"].update(
        offset_frames={"max_abs": 3},
        correlation={"min": 0.0},
        duration_error_frames={"max_abs": 20},
        audio_error_frames={"max_abs": 20},
        frame_count_error={"max_abs": 20},
    )
    (qualification_dir / "thresholds.json").write_text(json.dumps(thresholds))
    gate, _ = Gate.load(qualification_dir, "builtin", 256)
    status = run_self_test(qualify_cases.CASES["normal_speech"], "builtin", 256, tmp_path, gate)
    output = capsys.readouterr().out
    assert status == 1
    assert "shifted 2 frames late: NOT CAUGHT" in output and "short: NOT CAUGHT" in output


@pytest.mark.slow
def test_identity_drift_is_low_for_a_render_and_high_for_a_broken_face(rendered, measured, tmp_path):
    limit = qualify_gate.load_thresholds()["limits"]["identity_drift_max"]["max"]
    assert measured.identity_drift_max < limit / 2, "head motion and blinks are not identity drift"
    assert measured.identity_drift_mean < 0.02 and len(measured.identity_drift) == measured.frames

    frames = list(iter_video_frames(rendered.output_path))
    with FaceTracker() as tracker:
        x0, y0, x1, y1 = (int(v) for v in tracker(frames[0]).box)
    rng = np.random.default_rng(0)

    def scrambled(frame):
        face = frame[y0:y1, x0:x1]
        rows, cols = (y1 - y0) // 4, (x1 - x0) // 4
        blocks = [face[r * rows : (r + 1) * rows, c * cols : (c + 1) * cols].copy() for r in range(4) for c in range(4)]
        out = frame.copy()
        for slot, block in enumerate(rng.permutation(16)):
            r, c = divmod(slot, 4)
            out[y0 + r * rows : y0 + (r + 1) * rows, x0 + c * cols : x0 + (c + 1) * cols] = blocks[block]
        return out

    def smeared(frame):
        out = frame.copy()
        out[y0:y1, x0:x1] = cv2.GaussianBlur(frame[y0:y1, x0:x1], (0, 0), (x1 - x0) / 25)
        return out

    for name, breakage, at_least in (("scrambled", scrambled, 0.5), ("smeared", smeared, limit)):
        broken = [frame if index < 100 else breakage(frame) for index, frame in enumerate(frames)]
        video = _write(tmp_path / f"{name}.mp4", broken, rendered.output_path)
        drift = quality.measure(video, reference_audio_duration=rendered.audio_duration)
        assert drift.identity_drift_max > at_least, name
        assert np.nanmax(drift.identity_drift[:95]) < limit / 2, f"{name}: frames before the damage are fine"


def _write(target, frames, audio_source):
    height, width = frames[0].shape[:2]
    writer = Mp4Writer(target, width, height, 25, audio_rate=16000)
    for frame in frames:
        writer.write_frame(frame)
    for chunk in AudioReader(audio_source, rate=16000):
        writer.write_audio(chunk)
    writer.close()
    return target


def test_rules_read_as_the_gate_prints_them():
    thresholds = qualify_gate.load_thresholds()
    limits = qualify_gate.limits_for(thresholds, "builtin", "very_short")
    assert limits["correlation"] == thresholds["case_limits"]["very_short"]["correlation"]
    assert limits["rtf"] == thresholds["backend_limits"]["builtin"]["rtf"]
    assert "rtf" not in qualify_gate.limits_for(thresholds, "sonic", "normal_speech")
    failures = qualify_gate.check_limits(
        "fast_speech",
        {"offset_frames": 2, "correlation": 0.7, "blank_frames": 0},
        {
            "offset_frames": {"max_abs": 1},
            "correlation": {"min": 0.6},
            "blank_frames": {"max": 0},
            "faces_missing": {"max": 0},
        },
    )
    assert [str(f) for f in failures] == [
        "FAIL fast_speech: offset_frames = 2 (limit |x| <= 1)",
        "FAIL fast_speech: faces_missing not measured",
    ]
    slower = qualify_gate.check_regression(
        "x", {"rtf": 0.5, "correlation": 0.85}, {"rtf": 0.1, "correlation": 0.9}, thresholds["regression"]
    )
    assert [str(f) for f in slower] == ["FAIL x: rtf = 0.5 (baseline 0.1, at most 4x that or 0.25)"]


def test_the_committed_record_says_which_version_passed(qualification_dir):
    record = renderer.qualification_for("builtin", builtin.VERSION)
    assert record["result"] == "passed" and record["cases"] == len(qualify_cases.SUITE), (
        f"{builtin.VERSION} was not qualified: run `python -m renderer qualify --record` and commit the record"
    )
    assert record["thresholds_version"] == qualify_gate.load_thresholds()["version"]
    assert renderer.qualification_for("builtin", "builtin-0") is None
    assert renderer.qualification_for("sonic", builtin.VERSION) is None

    qualify_gate.record_result(
        qualification_dir,
        "sonic",
        "sonic-test",
        passed=False,
        resolution=512,
        cases=11,
        thresholds_version=1,
        failures=["FAIL x: offset_frames = 3 (limit |x| <= 1)"],
    )
    stored = renderer.qualification_for("sonic", "sonic-test", directory=qualification_dir)
    assert stored["result"] == "failed" and stored["failures"] and stored["backend"] == "sonic"
    assert renderer.qualification_for("builtin", builtin.VERSION, directory=qualification_dir)["result"] == "passed"


@pytest.mark.slow
def test_update_baseline_and_refusals(qualification_dir):
    before = json.loads((qualification_dir / "baseline-builtin.json").read_text())
    result = qualify("--cases", "very_short", "--update-baseline", "--qualification-dir", qualification_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    after = json.loads((qualification_dir / "baseline-builtin.json").read_text())
    assert set(after["cases"]) == set(before["cases"]), "cases outside this run keep their numbers"
    assert after["cases"]["normal_speech"] == before["cases"]["normal_speech"]
    assert "baseline written" in result.stdout and after["date"] >= before["date"]

    refused = qualify("--cases", "very_short", "--record", "--qualification-dir", qualification_dir)
    assert refused.returncode == 2 and "--record needs the whole suite" in refused.stderr
    unknown = qualify("--cases", "whispering", "--qualification-dir", qualification_dir)
    assert unknown.returncode == 2 and "unknown case 'whispering'" in unknown.stderr


def test_every_case_input_is_made_from_the_committed_fixtures(tmp_path):
    """Deterministic inputs: the same bytes twice, and each case's audio differs as its description says."""
    durations = {}
    for case in qualify_cases.SUITE:
        first, second = tmp_path / "a" / case.name, tmp_path / "b" / case.name
        first.mkdir(parents=True), second.mkdir(parents=True)
        audio = case.audio(first)
        assert audio.read_bytes() == case.audio(second).read_bytes()
        assert case.portrait(first).read_bytes() == case.portrait(second).read_bytes()
        durations[case.name] = AudioReader(audio).info.sample_rate, sum(c.shape[1] for c in AudioReader(audio))
    speech = durations["normal_speech"][1]
    assert durations["fast_speech"] == (24000, speech)  # same samples, played 1.5x faster
    assert durations["very_short"][1] / 16000 < 1.0
    assert durations["multi_segment"][1] == 2 * speech
    assert durations["long_pauses"][1] > speech + 2 * 16000
    assert durations["silence_edges"][1] == speech + 4 * 16000
    assert (FIXTURES / "speech_voice2.wav").stat().st_size < 300_000
