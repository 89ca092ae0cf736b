"""The Sonic adapter cannot run here (no GPU, no weights); what it can do without them is tested."""

import numpy as np
from renderer_inputs import SPEECH

from renderer.backends import sonic
from renderer.media import Mp4Writer, probe_output


def test_unavailable_with_every_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("SONIC_HOME", str(tmp_path))
    (tmp_path / "sonic.py").write_text("# the official entry point")
    (tmp_path / "checkpoints" / "Sonic").mkdir(parents=True)
    (tmp_path / "checkpoints" / "Sonic" / "unet.pth").write_bytes(b"")
    available, reason = sonic.availability()
    assert not available
    assert "no CUDA GPU" in reason
    assert "missing checkpoint files" in reason and "audio2token.pth" in reason and "unet.pth" not in reason


def test_unavailable_without_a_checkout(monkeypatch):
    monkeypatch.delenv("SONIC_HOME", raising=False)
    assert "set SONIC_HOME" in sonic.availability()[1]


def test_silent_model_output_is_muxed_to_the_full_audio_length(tmp_path):
    # Sonic's own ffmpeg call uses -shortest; ours keeps every sample and holds the last frame if needed.
    silent = tmp_path / "sonic_noaudio.mp4"
    writer = Mp4Writer(silent, 128, 128, 25, audio_rate=None)
    for index in range(100):  # 4 s of video for 9.7 s of speech
        writer.write_frame(np.full((128, 128, 3), index, np.uint8))
    writer.close()
    muxed = sonic.mux_with_audio(silent, SPEECH, tmp_path / "out.mp4", fps=25)
    probe = probe_output(tmp_path / "out.mp4")
    assert probe.frames == muxed.frames == 243
    assert abs(probe.audio_duration - 9.71875) <= 0.005
