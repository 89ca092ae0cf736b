import json
import subprocess
import sys
from pathlib import Path

import pytest
from renderer_inputs import PORTRAIT, SPEECH

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "renderer", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_render_prints_one_json_line(tmp_path):
    result = run("render", PORTRAIT, SPEECH, tmp_path / "out.mp4", "--resolution", 256, "--seed", 9, "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["output"] == str(tmp_path / "out.mp4") and payload["backend"] == "builtin"
    assert payload["frames"] == 243 and abs(payload["video_duration"] - payload["audio_duration"]) <= 0.04
    assert {"load_audio", "analyse_audio", "preprocess_image", "animate", "encode_video"} <= set(payload["seconds"])
    assert (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.slow
def test_render_error_has_a_code_and_exit_status(tmp_path):
    result = run("render", PORTRAIT, SPEECH, tmp_path / "out.mp4", "--dynamic-scale", 9, "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["code"] == "invalid_parameter"


@pytest.mark.slow
def test_doctor_says_which_backends_run_here_and_why_not():
    result = run("doctor")
    assert result.returncode == 0
    assert "builtin  available" in result.stdout
    assert "sonic    unavailable" in result.stdout and "SONIC_HOME" in result.stdout
