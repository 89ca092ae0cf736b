"""Burned-in captions: draw a finished video's cues onto its frames and write a new MP4.

The video is decoded, each frame a cue covers (cue.start <= frame index / fps < cue.end) gets the cue's text, and
the frames are encoded again as H.264 with the settings `media.Mp4Writer` uses; the audio packets are copied across
untouched (no decode, no re-encode), so the output sounds exactly like the input and lasts as long.

Each distinct caption is drawn once with Pillow into an RGBA patch (white text on a translucent dark rounded box,
centred above the bottom 6 % of the picture) and then blended, in the decoded YUV planes and only where the patch
lies, onto the frames it covers: no full-frame colour conversion, so the cost is the decode and the encode.

Fonts: DejaVu Sans for Latin text, Noto Sans CJK for Chinese, Japanese and Korean (the face matching `language`),
found with fontconfig's `fc-match` where it exists and in the usual Debian paths where it does not. A caption that
no installed font can draw raises FontNotInstalledError (code font_not_installed) before anything is written.
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import subprocess
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .captions import Cue
from .errors import CanceledError, RenderError

ProgressCallback = Callable[[float, str], None]  # the shapes renderer.stages uses (not imported: it loads mediapipe)
CancelCheck = Callable[[], bool]

# As media.Mp4Writer encodes, so that a burned video joins and plays like any other output.
CRF = 23
PRESET = "veryfast"

TEXT_HEIGHT_FRACTION = 1 / 18  # font size, of the video's height
MIN_FONT_PX = 14
BOTTOM_MARGIN_FRACTION = 0.06  # the box sits above the bottom 6 % of the picture
MAX_WIDTH_FRACTION = 0.90  # a line wider than this (box included) is wrapped
BOX_OPACITY = 0.6
LINE_SPACING = 1.3  # line height, in font sizes
PATCH_CACHE = 16  # distinct captions kept drawn at once (cues come in time order: each is drawn once)
CHECK_EVERY = 25  # frames between progress reports and cancel checks

FONT_PACKAGE = "fonts-noto-cjk"
LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian/Ubuntu fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
# Which face of a CJK collection a language wants (Han characters are drawn differently in each region).
CJK_REGIONS = {"zh": "SC", "zh-cn": "SC", "zh-sg": "SC", "zh-hans": "SC", "zh-tw": "TC", "zh-hant": "TC"}
CJK_REGIONS |= {"zh-hk": "HK", "zh-mo": "HK", "ja": "JP", "ko": "KR", "cmn": "SC", "yue": "HK"}
FONTCONFIG_LANGS = {"SC": "zh-cn", "TC": "zh-tw", "HK": "zh-hk", "JP": "ja", "KR": "ko"}

_CJK = "\u2e80-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CLOSING = "、。，．：；！？）」』】〉》〕”’,.:;!?)]}%"
# Where a line may break: at spaces, between CJK characters (a closing mark stays with the one before it).
_TOKENS = re.compile(f"\\s+|[{_CJK}][{re.escape(_CLOSING)}]*|[^\\s{_CJK}]+")


_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>")  # <i>, </b>, <v Speaker>, <c.yellow>, <00:00:01.000>


class FontNotInstalledError(RenderError):
    code = "font_not_installed"


class UnreadableVideoError(RenderError):
    code = "unreadable_video"


@dataclass(frozen=True)
class FontChoice:
    path: str
    index: int = 0


@dataclass
class Patch:
    """One caption drawn for one frame size: `rgba` (straight alpha) at (x, y), and its blend in YUV 4:2:0."""

    x: int
    y: int
    rgba: np.ndarray  # (h, w, 4) uint8
    luma_keep: np.ndarray | None = None  # (h, w) uint16, 256 - alpha
    luma_add: np.ndarray | None = None  # (h, w) uint16, colour * alpha
    chroma_keep: np.ndarray | None = None  # (h/2, w/2): the text and box are grey, so U and V blend towards 128
    chroma_add: np.ndarray | None = None

    def prepare(self, full_range: bool) -> Patch:
        """Precompute the fixed-point blend for the file's levels (limited 16-235 unless the frames say full)."""
        alpha = self.rgba[..., 3].astype(np.float32) / 255
        grey = self.rgba[..., 0].astype(np.float32)
        black, white = (0.0, 255.0) if full_range else (16.0, 235.0)
        luma = black + grey * (white - black) / 255
        weight = np.rint(alpha * 256)
        self.luma_keep = (256 - weight).astype(np.uint16)
        self.luma_add = np.rint(luma * weight).astype(np.uint16)
        height, width = alpha.shape
        sub = alpha.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        sub_weight = np.rint(sub * 256)
        self.chroma_keep = (256 - sub_weight).astype(np.uint16)
        self.chroma_add = np.rint(128 * sub_weight).astype(np.uint16)
        return self

    def blend(self, yuv: np.ndarray, width: int, height: int) -> None:
        """Blend onto a (height * 3 / 2, width) yuv420p frame in place."""
        assert self.luma_keep is not None and self.luma_add is not None
        assert self.chroma_keep is not None and self.chroma_add is not None
        h, w = self.luma_keep.shape
        x, y = self.x, self.y
        _mix(yuv[y : y + h, x : x + w], self.luma_keep, self.luma_add)
        quarter = (height // 2) * (width // 2)
        chroma = yuv[height:].reshape(-1)  # U then V, each (height / 2, width / 2)
        for start in (0, quarter):
            plane = chroma[start : start + quarter].reshape(height // 2, width // 2)
            _mix(plane[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2], self.chroma_keep, self.chroma_add)


def _mix(region: np.ndarray, keep: np.ndarray, add: np.ndarray) -> None:
    # region * (256 - a) + colour * a stays below 255 * 256 + 128, within uint16.
    region[...] = ((region.astype(np.uint16) * keep + add + 128) >> 8).astype(np.uint8)


def burn(
    video_in: Path,
    video_out: Path,
    cues: list[Cue],
    *,
    language: str = "en",
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> None:
    """Write video_in with `cues` drawn on its frames to video_out (atomically: a failure leaves nothing new there).

    Raises FontNotInstalledError when no installed font draws a caption, UnreadableVideoError when video_in cannot
    be decoded, CanceledError when should_cancel() turns true.
    """
    video_in, video_out = Path(video_in), Path(video_out)
    shown = (Cue(cue.start, cue.end, display_text(cue.text)) for cue in cues if cue.end > cue.start)
    ordered = sorted((cue for cue in shown if cue.text.strip()), key=lambda cue: cue.start)
    for cue in ordered:
        font_for(cue.text, language)  # every caption's font is found before a frame is decoded
    video_out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=video_out.parent, prefix=f".{video_out.name}.", suffix=".part")
    os.close(handle)
    try:
        _burn(video_in, Path(temporary), ordered, language, progress, should_cancel)
        os.replace(temporary, video_out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _burn(
    video_in: Path,
    output_path: Path,
    cues: list[Cue],
    language: str,
    progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> None:
    try:
        source = av.open(str(video_in))
    except (av.FFmpegError, OSError) as error:
        raise UnreadableVideoError(f"cannot read the video {video_in.name}: {error}") from error
    with source:
        if not source.streams.video:
            raise UnreadableVideoError(f"{video_in.name} has no video track")
        vstream = source.streams.video[0]
        vstream.thread_type = "AUTO"
        astream = source.streams.audio[0] if source.streams.audio else None
        rate = vstream.average_rate or vstream.guessed_rate
        width, height = vstream.codec_context.width, vstream.codec_context.height
        if not rate or not width or not height:
            raise UnreadableVideoError(f"{video_in.name}: the video has no frame rate or size")
        if width % 2 or height % 2:
            raise UnreadableVideoError(f"{video_in.name} is {width}x{height}: H.264 4:2:0 needs an even size")
        fps = Fraction(rate)
        expected = vstream.frames or 0
        output = av.open(str(output_path), mode="w", format="mp4", options={"movflags": "faststart"})
        try:
            output.metadata.update(
                {
                    key: value
                    for key, value in source.metadata.items()
                    if key not in {"major_brand", "minor_version", "compatible_brands", "encoder"}
                }
            )
            encoder = output.add_stream("libx264", rate=fps)
            encoder.width, encoder.height = width, height
            encoder.pix_fmt = "yuv420p"
            encoder.time_base = 1 / fps
            # No B-frames, as Mp4Writer: renderer.concat appends parts by pts.
            encoder.options = {"crf": str(CRF), "preset": PRESET, "x264-params": "bframes=0"}
            encoder.codec_context.thread_type = "AUTO"
            audio_out = output.add_stream_from_template(astream) if astream is not None else None
            timeline = _Timeline(cues, fps)
            patches = _Patches(width, height, language)
            index = 0
            streams: list[av.stream.Stream] = [vstream] if astream is None else [vstream, astream]
            for packet in source.demux(*streams):
                if packet.stream is astream:
                    if packet.dts is None or audio_out is None:
                        continue  # the demuxer's empty end-of-stream packet
                    packet.stream = audio_out
                    output.mux(packet)
                    continue
                for frame in packet.decode():
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    yuv: np.ndarray = frame.to_ndarray(format="yuv420p")
                    text = timeline.text_at(index)
                    if text is not None:
                        patches.get(text, full_range=frame.color_range == 2).blend(yuv, width, height)
                    out = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
                    out.pts = index
                    output.mux(encoder.encode(out))
                    index += 1
                    if index % CHECK_EVERY == 0:
                        if should_cancel is not None and should_cancel():
                            raise CanceledError("burning in the captions was canceled")
                        if progress is not None and expected:
                            progress(min(1.0, index / expected), "captions")
            if index == 0:
                raise UnreadableVideoError(f"{video_in.name} has no video frames")
            output.mux(encoder.encode(None))
        except av.FFmpegError as error:
            raise UnreadableVideoError(f"cannot burn captions into {video_in.name}: {error}") from error
        finally:
            output.close()
    if progress is not None:
        progress(1.0, "captions")


class _Timeline:
    """The caption text of frame i (cues sorted by start; overlapping cues are stacked, earliest first)."""

    def __init__(self, cues: list[Cue], fps: Fraction):
        self.cues, self.fps = cues, float(fps)
        self.next = 0
        self.active: list[Cue] = []

    def text_at(self, index: int) -> str | None:
        t = index / self.fps
        while self.next < len(self.cues) and self.cues[self.next].start <= t:
            self.active.append(self.cues[self.next])
            self.next += 1
        self.active = [cue for cue in self.active if cue.start <= t < cue.end]
        if not self.active:
            return None
        return "\n".join(cue.text for cue in self.active)


class _Patches:
    def __init__(self, width: int, height: int, language: str):
        self.width, self.height, self.language = width, height, language
        self.drawn: OrderedDict[tuple[str, bool], Patch] = OrderedDict()

    def get(self, text: str, *, full_range: bool) -> Patch:
        key = (text, full_range)
        patch = self.drawn.get(key)
        if patch is None:
            patch = render_patch(text, self.width, self.height, language=self.language).prepare(full_range)
            self.drawn[key] = patch
            if len(self.drawn) > PATCH_CACHE:
                self.drawn.popitem(last=False)
        else:
            self.drawn.move_to_end(key)
        return patch


def display_text(text: str) -> str:
    """What a caption shows: WebVTT/SubRip markup (<i>, <v Speaker>, timestamps) dropped, entities decoded."""
    return html.unescape(_MARKUP.sub("", text))


def font_size_for(height: int) -> int:
    return max(MIN_FONT_PX, round(height * TEXT_HEIGHT_FRACTION))


def render_patch(text: str, width: int, height: int, *, language: str = "en") -> Patch:
    """The caption as it appears on a width x height video: an RGBA patch and where it goes (even x, y, size)."""
    size = font_size_for(height)
    font = _load_font(font_for(text, language), size)
    pad_x, pad_y = max(4, round(size * 0.5)), max(2, round(size * 0.3))
    line_height = round(size * LINE_SPACING)
    max_text = max(size, int(width * MAX_WIDTH_FRACTION) - 2 * pad_x)
    lines = layout_lines(text, font, max_text)
    text_width = max(font.getlength(line) for line in lines)
    box_w = min(width, int(np.ceil(text_width)) + 2 * pad_x)
    box_h = min(height, len(lines) * line_height + 2 * pad_y)
    box_w, box_h = box_w + box_w % 2, box_h + box_h % 2
    box_w, box_h = min(box_w, width - width % 2), min(box_h, height - height % 2)
    x = (width - box_w) // 2
    bottom = height - int(np.ceil(height * BOTTOM_MARGIN_FRACTION))
    y = max(0, bottom - box_h)
    x, y = x - x % 2, y - y % 2

    box = Image.new("L", (box_w, box_h), 0)
    ImageDraw.Draw(box).rounded_rectangle(
        (0, 0, box_w - 1, box_h - 1), radius=max(2, round(size * 0.4)), fill=round(255 * BOX_OPACITY)
    )
    ink = Image.new("L", (box_w, box_h), 0)
    draw = ImageDraw.Draw(ink)
    for number, line in enumerate(lines):
        draw.text((box_w / 2, pad_y + line_height * (number + 0.5)), line, font=font, fill=255, anchor="mm")
    t = np.asarray(ink, np.float32) / 255
    b = np.asarray(box, np.float32) / 255
    alpha = t + b * (1 - t)
    grey = np.divide(255 * t, alpha, out=np.zeros_like(alpha), where=alpha > 0)  # white text over a black box
    rgba = np.empty((box_h, box_w, 4), np.uint8)
    rgba[..., :3] = np.rint(grey)[..., None]
    rgba[..., 3] = np.rint(alpha * 255)
    return Patch(x, y, rgba)


def layout_lines(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """The cue's own lines where each fits; else the whole cue re-flowed into as few, evenly long lines as fit."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if all(font.getlength(line) <= max_width for line in lines):
        return lines
    paragraph = lines[0]
    for line in lines[1:]:  # no space where a line break falls between CJK characters
        both_cjk = _CJK_CHAR.match(paragraph[-1]) and _CJK_CHAR.match(line[0])
        paragraph += line if both_cjk else " " + line
    count = len(wrap(paragraph, font, max_width))
    low, high = 1, int(max_width)  # the narrowest width that still needs no more lines: no short last line
    while low < high:
        middle = (low + high) // 2
        if len(wrap(paragraph, font, middle)) <= count:
            high = middle
        else:
            low = middle + 1
    return wrap(paragraph, font, high)


def wrap(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Break a line greedily at spaces and between CJK characters so no piece is wider than max_width."""
    if font.getlength(line) <= max_width:
        return [line]
    pieces: list[str] = []
    current = ""
    for token in _TOKENS.findall(line):
        candidate = current + token
        if font.getlength(candidate.strip()) <= max_width:
            current = candidate
            continue
        if current.strip():
            pieces.append(current.strip())
        current = "" if token.isspace() else token
        while font.getlength(current) > max_width and len(current) > 1:  # one word wider than the line
            cut = max(1, _fitting(current, font, max_width))
            pieces.append(current[:cut])
            current = current[cut:]
    if current.strip():
        pieces.append(current.strip())
    return pieces


def _fitting(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> int:
    count = 0
    while count < len(text) and font.getlength(text[: count + 1]) <= max_width:
        count += 1
    return count


# --- fonts ---


def font_for(text: str, language: str = "en") -> FontChoice:
    """The first installed font that draws every character of `text` (CJK fonts first for CJK text/languages)."""
    region = _cjk_region(language)
    cjk_first = region is not None or _CJK_CHAR.search(text) is not None
    groups = (_cjk_fonts(region or "SC"), _latin_fonts())
    characters = frozenset(ch for ch in text if not ch.isspace() and ch.isprintable())
    for choice in (*groups[0], *groups[1]) if cjk_first else (*groups[1], *groups[0]):
        if all(_draws(choice, ch) for ch in characters):
            return choice
    every = (*groups[0], *groups[1])
    missing = next((ch for ch in sorted(characters) if not any(_draws(choice, ch) for choice in every)), "?")
    raise FontNotInstalledError(
        f"No installed font can draw the caption {text[:40]!r} (for example {missing!r}, U+{ord(missing):04X}). "
        f"Install a font that covers it: Chinese, Japanese and Korean need the Debian package {FONT_PACKAGE} "
        f"(apt-get install {FONT_PACKAGE})."
    )


def _cjk_region(language: str) -> str | None:
    code = language.lower().replace("_", "-")
    return CJK_REGIONS.get(code) or CJK_REGIONS.get(code.split("-")[0])


@functools.cache
def _fc_match(pattern: str) -> FontChoice | None:
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\t%{index}", pattern], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = found.stdout.partition("\t")
    if found.returncode != 0 or not path or not Path(path).is_file():
        return None
    return FontChoice(path, int(index) if index.strip().isdigit() else 0)


@functools.cache
def _latin_fonts() -> tuple[FontChoice, ...]:
    found = [_fc_match("DejaVu Sans")]
    found += [FontChoice(path) for path in LATIN_FONTS if Path(path).is_file()]
    return _usable(choice for choice in found if choice is not None and "DejaVuSans" in Path(choice.path).name)


@functools.cache
def _cjk_fonts(region: str) -> tuple[FontChoice, ...]:
    found = [_fc_match(f"sans:lang={FONTCONFIG_LANGS[region]}")]
    found += [FontChoice(path, _face_for(path, region)) for path in CJK_FONTS if Path(path).is_file()]
    return _usable(choice for choice in found if choice is not None)


def _face_for(path: str, region: str) -> int:
    """The face of a font collection named for the region (Noto Sans CJK SC, ...), else the first."""
    for index in range(32):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if family.endswith(f" {region}") and "Mono" not in family:
            return index
    return 0


def _usable(choices: Iterable[FontChoice]) -> tuple[FontChoice, ...]:
    unique: list[FontChoice] = []
    for choice in choices:
        if choice in unique:
            continue
        try:
            _load_font(choice, 12)
        except OSError:
            continue
        unique.append(choice)
    return tuple(unique)


@functools.lru_cache(maxsize=64)
def _load_font(choice: FontChoice, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(choice.path, size, index=choice.index)


@functools.cache
def _probe_font(choice: FontChoice) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(choice.path, 24, index=choice.index, layout_engine=ImageFont.Layout.BASIC)


@functools.cache
def _notdef(choice: FontChoice) -> bytes:
    return _glyph(choice, "\U0010ffff")  # a noncharacter: every font draws its .notdef box for it


@functools.lru_cache(maxsize=65536)
def _draws(choice: FontChoice, character: str) -> bool:
    """Whether the font has a glyph for the character (Pillow exposes no cmap: compare with the .notdef box)."""
    return _glyph(choice, character) != _notdef(choice)


def _glyph(choice: FontChoice, character: str) -> bytes:
    mask = _probe_font(choice).getmask(character)
    return repr(mask.size).encode() + bytes(mask)
