"""Burned-in captions (renderer/burn_in.py), checked on a real MP4 as a viewer would see and hear it."""

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from renderer import burn_in
from renderer.captions import Cue
from renderer.errors import CanceledError, RenderError
from renderer.media import Mp4Writer, iter_video_frames, probe_output
from renderer.watermark import AI_METADATA

ROOT = Path(__file__).resolve().parents[2]
SIZE, FPS, SECONDS, RATE = 256, 25, 3, 16000
CUES = [
    Cue(0.5, 1.5, "Hello, world!\nSecond line"),
    Cue(2.0, 9.0, "你好，世界"),  # ends long after the 3 s video
]


def make_video(path: Path, *, size: int = SIZE, seconds: float = SECONDS, fps: int = FPS) -> Path:
    """A gradient picture that drifts a little each frame, and a 440 Hz tone, written by the project's writer."""
    writer = Mp4Writer(path, size, size, fps, audio_rate=RATE, metadata=AI_METADATA)
    yy, xx = np.mgrid[0:size, 0:size]
    per_frame = RATE // fps
    for index in range(int(seconds * fps)):
        picture = np.dstack([(xx + index) * 255 // size, yy * 255 // size, np.full_like(xx, 90)]).astype(np.uint8)
        writer.write_frame(picture)
        t = np.arange(index * per_frame, (index + 1) * per_frame) / RATE
        writer.write_audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None])
    writer.close()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("burn")
    source = make_video(folder / "source.mp4")
    reports = []
    burned = folder / "burned.mp4"
    burn_in.burn(source, burned, CUES, progress=lambda fraction, stage: reports.append((fraction, stage)))
    return source, burned, reports


@pytest.fixture(scope="module")
def frames(videos):
    source, burned, _ = videos
    return [frame.astype(np.int16) for frame in iter_video_frames(source)], [
        frame.astype(np.int16) for frame in iter_video_frames(burned)
    ]


def covered(index: int) -> bool:
    t = index / FPS
    return any(cue.start <= t < cue.end for cue in CUES)


def test_captions_show_in_the_bottom_region_only_on_the_frames_their_cues_cover(frames):
    before, after = frames
    assert len(before) == len(after) == SECONDS * FPS
    bottom = slice(int(SIZE * 0.7), int(SIZE * 0.94))
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        top_diff = np.abs(a[: SIZE // 2] - b[: SIZE // 2]).mean()
        bottom_diff = np.abs(a[bottom] - b[bottom]).mean()
        assert top_diff < 2, (index, top_diff)  # only the re-encode's noise above the captions
        if covered(index):
            assert bottom_diff > 10, (index, bottom_diff)
        else:
            assert bottom_diff < 2, (index, bottom_diff)
    # The box stays above the bottom 6 %.
    assert np.abs(before[30][int(SIZE * 0.95) :] - after[30][int(SIZE * 0.95) :]).mean() < 2


def test_the_caption_is_white_text_on_a_dark_box(frames):
    before, after = frames
    a, b = before[30][int(SIZE * 0.7) : int(SIZE * 0.94)], after[30][int(SIZE * 0.7) : int(SIZE * 0.94)]
    changed = np.abs(a - b).max(axis=2) > 20
    assert (b[changed].min(axis=1) > 220).sum() > 50  # white glyph pixels
    assert (b[changed].mean(axis=1) < a[changed].mean(axis=1) - 20).sum() > 500  # the box darkens the picture


def test_audio_is_copied_untouched_and_lengths_are_kept(videos):
    source, burned, _ = videos
    assert probe_output(burned) == probe_output(source)

    def packets(path):
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            return [(packet.pts, bytes(packet)) for packet in container.demux(stream) if packet.dts is not None]

    def samples(path):
        with av.open(str(path)) as container:
            return np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)

    assert packets(burned) == packets(source)
    assert np.array_equal(samples(burned), samples(source))
    with av.open(str(burned)) as container:
        assert container.metadata["comment"] == AI_METADATA["comment"]  # still says it is AI-generated
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"


def test_output_is_faststart(videos):
    _, burned, _ = videos
    head = burned.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat"))


def test_progress_is_reported_up_to_done(videos):
    _, _, reports = videos
    assert reports and reports[-1] == (1.0, "captions")
    assert all(stage == "captions" for _, stage in reports)
    assert [fraction for fraction, _ in reports] == sorted(fraction for fraction, _ in reports)


def ink(patch: burn_in.Patch) -> np.ndarray:
    """Where the text is: opaque white pixels."""
    return (patch.rgba[..., 3] > 200) & (patch.rgba[..., 0] > 200)


def test_chinese_draws_real_glyphs_not_tofu():
    font = burn_in.font_for("你好")
    assert "CJK" in Path(font.path).name or "wqy" in font.path or "Droid" in font.path, (
        f"no CJK font found ({font}): install fonts-noto-cjk"
    )
    hello, goodbye = burn_in.render_patch("你好", 256, 256), burn_in.render_patch("再见", 256, 256)
    assert ink(hello).sum() > 60 and ink(goodbye).sum() > 60
    assert hello.rgba.shape == goodbye.rgba.shape
    # Tofu boxes would be drawn alike for any two strings: real glyphs differ.
    assert (ink(hello) != ink(goodbye)).sum() > 0.3 * max(ink(hello).sum(), ink(goodbye).sum())
    assert all(burn_in._draws(font, character) for character in "你好再见")  # none is the font's .notdef box


def test_latin_uses_dejavu_and_the_language_picks_the_cjk_face():
    assert "DejaVuSans" in burn_in.font_for("Hello").path
    simplified, japanese = burn_in.font_for("你好", "zh"), burn_in.font_for("你好", "ja")
    if simplified.path.endswith(".ttc") and simplified.path == japanese.path:
        assert simplified.index != japanese.index


def test_layout_size_wrapping_and_position():
    width = height = 256
    patch = burn_in.render_patch("Hello", width, height)
    assert patch.x % 2 == patch.y % 2 == patch.rgba.shape[0] % 2 == patch.rgba.shape[1] % 2 == 0
    assert patch.y + patch.rgba.shape[0] <= height * 0.94
    assert abs(patch.x + patch.rgba.shape[1] / 2 - width / 2) <= 1
    text_rows = np.flatnonzero(ink(patch).any(axis=1))
    assert burn_in.MIN_FONT_PX * 0.5 <= np.ptp(text_rows) + 1 <= burn_in.MIN_FONT_PX * 1.5
    long = burn_in.render_patch("This caption line is much too long to fit across a small video", width, height)
    assert long.rgba.shape[1] <= width * 0.9 + 2 and long.rgba.shape[0] > 1.5 * patch.rgba.shape[0]
    chinese = burn_in.render_patch("这是一行很长很长的中文字幕它必须换行才能放得下", width, height)
    assert chinese.rgba.shape[1] <= width * 0.9 + 2 and chinese.rgba.shape[0] > 1.5 * patch.rgba.shape[0]
    assert burn_in.font_size_for(1080) == 60 and burn_in.font_size_for(128) == burn_in.MIN_FONT_PX


def test_caption_markup_is_not_drawn():
    plain = burn_in.render_patch("Hello there", 256, 256).rgba
    assert np.array_equal(burn_in.render_patch(burn_in.display_text("<v Joe><i>Hello</i> there"), 256, 256).rgba, plain)
    assert burn_in.display_text("Tom &amp; Jerry: 1 < 2") == "Tom & Jerry: 1 < 2"


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name != "source.mp4")


def test_a_missing_font_fails_before_writing_anything(videos, tmp_path, monkeypatch):
    source, _, _ = videos
    monkeypatch.setattr(burn_in, "_cjk_fonts", lambda region: ())
    with pytest.raises(burn_in.FontNotInstalledError) as raised:
        burn_in.burn(source, tmp_path / "out.mp4", [Cue(0, 1, "你好")])
    assert raised.value.code == "font_not_installed" and isinstance(raised.value, RenderError)
    assert "fonts-noto-cjk" in raised.value.message
    assert leftovers(tmp_path) == []


def test_a_canceled_or_broken_run_leaves_no_output(videos, tmp_path):
    source, _, _ = videos
    with pytest.raises(CanceledError):
        burn_in.burn(source, tmp_path / "out.mp4", CUES, should_cancel=lambda: True)
    assert leftovers(tmp_path) == []
    broken = tmp_path / "source.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)  # an MP4 header, then noise
    with pytest.raises(RenderError) as raised:
        burn_in.burn(broken, tmp_path / "out.mp4", CUES)
    assert raised.value.code == "unreadable_video"
    assert leftovers(tmp_path) == []


def test_command_line_burns_an_srt(videos, tmp_path):
    source, _, _ = videos
    captions = tmp_path / "captions.srt"
    captions.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:02,000\n再见\n")
    result = subprocess.run(
        [sys.executable, "-m", "renderer", "burn", source, captions, tmp_path / "out.mp4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"{SECONDS * FPS} frames" in result.stdout and "wall" in result.stdout
    assert probe_output(tmp_path / "out.mp4").frames == SECONDS * FPS
