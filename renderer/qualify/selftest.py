"""`qualify --self-test`: prove the gate can fail. A real render must pass; the same file with its picture two
frames late, and the same file cut 0.5 s short, must each be refused for the right reason."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from ..media import AudioReader, Mp4Writer, iter_video_frames, probe_output
from .cases import Case
from .measure import measure
from .rendering import render_case

SHIFT_FRAMES = 2
TRUNCATE_SECONDS = 0.5


def shift_picture(source: Path, target: Path, frames: int = SHIFT_FRAMES) -> Path:
    """The same video with its picture `frames` late against unchanged sound (first frame held, last dropped)."""
    pictures = list(iter_video_frames(source))
    delayed = [pictures[0]] * frames + pictures[: len(pictures) - frames]
    return _write(target, delayed, source, end=None)


def truncate(source: Path, target: Path, seconds: float = TRUNCATE_SECONDS) -> Path:
    """The same video with its last `seconds` of picture and sound cut off."""
    probe = probe_output(source)
    keep = max(1, math.floor((probe.video_duration - seconds) * probe.fps + 1e-9))
    pictures = list(iter_video_frames(source))[:keep]
    return _write(target, pictures, source, end=keep / probe.fps)


def _write(target: Path, pictures: list, source: Path, end: float | None) -> Path:
    probe = probe_output(source)
    height, width = pictures[0].shape[:2]
    writer = Mp4Writer(target, width, height, round(probe.fps), audio_rate=probe.audio_rate)
    for picture in pictures:
        writer.write_frame(picture)
    for chunk in AudioReader(source, rate=probe.audio_rate, end=end):
        writer.write_audio(chunk)
    writer.close()
    return target


def run_self_test(case: Case, backend: str, resolution: int, workdir: Path, gate) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    original = render_case(case, backend, resolution, workdir)
    rendered = original.output
    if original.error or rendered is None:  # render_case leaves no output only with an error
        say(f"self-test: {case.name} could not be rendered: {original.error or 'no output file'}")
        return 1
    doctored_dir = workdir / "self-test"
    doctored_dir.mkdir(parents=True, exist_ok=True)
    trials = [
        ("unchanged render", rendered, None),
        (
            f"picture shifted {SHIFT_FRAMES} frames late",
            shift_picture(rendered, doctored_dir / f"{case.name}-shifted.mp4"),
            {"offset_frames"},
        ),
        (
            f"cut {TRUNCATE_SECONDS:g} s short",
            truncate(rendered, doctored_dir / f"{case.name}-truncated.mp4"),
            {"duration_error_frames"},
        ),
    ]
    ok = True
    for label, video, must_catch in trials:
        report = original.report if video == rendered else measure(video, original.input_seconds)
        doctored = dataclasses.replace(original, output=video, report=report)
        failures = gate.judge(case.name, doctored.metrics)
        caught = {failure.metric for failure in failures}
        if must_catch is None:
            verdict = "passes the gate, as it must" if not failures else "FAILS the gate (it must pass)"
            ok &= not failures
        else:
            expected = ", ".join(sorted(must_catch))
            verdict = "caught" if must_catch <= caught else f"NOT CAUGHT (expected a failure on {expected})"
            ok &= must_catch <= caught
        say(f"self-test: {case.name}, {label}: {verdict}")
        for failure in failures:
            say(f"    {failure}")
    say("self-test passed: the gate refuses a 2-frame shift and a 0.5 s truncation" if ok else "self-test FAILED")
    return 0 if ok else 1
