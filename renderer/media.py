"""Decode and encode media with PyAV (no ffmpeg subprocess).

Audio is always streamed in chunks so memory stays flat however long the input is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .errors import EmptyAudioError, UnreadableAudioError

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    codec: str


def probe_audio(path: str | Path) -> AudioInfo:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise UnreadableAudioError(f"{Path(path).name} has no audio track")
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate or stream.rate
            channels = stream.codec_context.channels or 1
            if not rate:
                raise UnreadableAudioError(f"{Path(path).name}: unknown sample rate")
            return AudioInfo(sample_rate=int(rate), channels=int(channels), codec=stream.codec_context.name)
    except av.FFmpegError as error:
        raise UnreadableAudioError(f"cannot read audio from {Path(path).name}: {error}") from error


SEEK_MARGIN_SECONDS = 1.0  # decoded before a window's start and dropped: decoders settle after a seek


class _SeekMissed(Exception):
    """The seek did not land before the window (no timestamps, or past it): decode from the start instead."""


class AudioReader:
    """Streams an audio file as float32 (channels, n) chunks at a chosen rate and layout.

    `start`/`end` (seconds) select a window measured in *source* samples, so that segment
    boundaries are exact regardless of resampling. `source_samples` counts what was read; the
    audio's true duration is source_samples / info.sample_rate once the reader is exhausted.
    `decoded_samples` counts what had to be decoded to get there.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        rate: int | None = None,
        layout: str = "mono",
        start: float = 0.0,
        end: float | None = None,
    ):
        self.path = Path(path)
        self.info = probe_audio(self.path)
        self.rate = rate or self.info.sample_rate
        self.layout = layout
        self.start_sample = int(round(start * self.info.sample_rate))
        self.end_sample = None if end is None else int(round(end * self.info.sample_rate))
        self.source_samples = 0
        self.decoded_samples = 0  # what was decoded to read the window, the margin before it included

    @property
    def duration(self) -> float:
        return self.source_samples / self.info.sample_rate

    def __iter__(self) -> Iterator[np.ndarray]:
        # A window far into the file (a part of a lecture) seeks there instead of decoding everything before it, so
        # a lecture's total decode work grows linearly with its length. Where the decoded position is taken from
        # timestamps, which every accepted format gives sample-exactly once the encoder delay (the stream's
        # start_time) is taken off; a seek that lands past the window falls back to decoding from the start.
        seek = self.start_sample > 2 * SEEK_MARGIN_SECONDS * self.info.sample_rate
        try:
            yield from self._decode(seek)
        except _SeekMissed:
            yield from self._decode(seek=False)

    def _decode(self, seek: bool) -> Iterator[np.ndarray]:
        convert = av.AudioResampler(format="fltp", layout=self.layout, rate=self.info.sample_rate)
        resample = (
            av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
            if self.rate != self.info.sample_rate
            else None
        )
        position: int | None = 0  # index of the next source sample (None after a seek, until a frame says)
        try:
            container = av.open(str(self.path))
        except av.FFmpegError as error:
            raise UnreadableAudioError(f"cannot read audio from {self.path.name}: {error}") from error
        with container:
            stream = container.streams.audio[0]
            if seek:
                target = self.start_sample / self.info.sample_rate - SEEK_MARGIN_SECONDS
                try:
                    container.seek(int(target / stream_time_base(stream)), stream=stream, backward=True)
                except av.FFmpegError:
                    raise _SeekMissed() from None
                position = None
            try:
                for frame in container.decode(stream):
                    if position is None:
                        if frame.pts is None:
                            raise _SeekMissed()
                        since_start = (frame.pts - (stream.start_time or 0)) * stream_time_base(stream)
                        position = round(float(since_start) * self.info.sample_rate)
                        if position > self.start_sample:
                            raise _SeekMissed()
                    for converted in convert.resample(frame):
                        chunk = converted.to_ndarray()
                        begin, stop = position, position + chunk.shape[1]
                        position = stop
                        self.decoded_samples += chunk.shape[1]
                        lo = max(begin, self.start_sample)
                        hi = stop if self.end_sample is None else min(stop, self.end_sample)
                        if hi > lo:
                            piece = np.ascontiguousarray(chunk[:, lo - begin : hi - begin], dtype=np.float32)
                            self.source_samples += piece.shape[1]
                            yield from self._resampled(resample, piece)
                        if self.end_sample is not None and position >= self.end_sample:
                            break
                    if self.end_sample is not None and position >= self.end_sample:
                        break
            except av.FFmpegError as error:
                raise UnreadableAudioError(f"audio in {self.path.name} is corrupt: {error}") from error
        if resample is not None:
            for out in resample.resample(None):
                yield out.to_ndarray().astype(np.float32, copy=False)

    def _resampled(self, resample, piece: np.ndarray) -> Iterator[np.ndarray]:
        if resample is None:
            yield piece
            return
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=self.layout)
        frame.sample_rate = self.info.sample_rate
        for out in resample.resample(frame):
            yield out.to_ndarray().astype(np.float32, copy=False)


def read_audio(path: str | Path, *, rate: int | None = None, start: float = 0.0, end: float | None = None):
    """Whole (windowed) audio as mono float32, for short clips and tests only."""
    reader = AudioReader(path, rate=rate, start=start, end=end)
    chunks = [chunk[0] for chunk in reader]
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if reader.source_samples == 0:
        raise EmptyAudioError(f"{Path(path).name} contains no audio samples")
    return samples, reader.rate


def encode_layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


def encode_rate(source_rate: int) -> int:
    return source_rate if source_rate in AAC_RATES else 48000


class Mp4Writer:
    """H.264 yuv420p + AAC in MP4 with faststart; video and audio are interleaved as they are written."""

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: int,
        *,
        audio_rate: int | None,
        audio_layout: str = "mono",
        crf: int = 23,
        preset: str = "veryfast",
        metadata: dict[str, str] | None = None,
    ):
        self.path = Path(path)
        self.fps = fps
        self.width, self.height = width, height
        self.container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "faststart"})
        self.container.metadata.update(metadata or {})
        self.video = self.container.add_stream("libx264", rate=fps)
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.video.time_base = Fraction(1, fps)
        # No B-frames: decode order equals display order, which lets concat() append parts by pts.
        self.video.options = {"crf": str(crf), "preset": preset, "x264-params": "bframes=0"}
        self.video.codec_context.thread_type = "AUTO"
        self.audio = None
        if audio_rate:
            self.audio = self.container.add_stream("aac", rate=audio_rate, layout=audio_layout)
            self.audio.bit_rate = 64000 if audio_layout == "mono" else 128000
            self.audio_layout = audio_layout
            self.audio_rate = audio_rate
        self.frames = 0
        self.audio_samples = 0
        self._yuv = np.empty((height * 3 // 2, width), np.uint8)

    def write_frame(self, bgr: np.ndarray) -> None:
        cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420, dst=self._yuv)
        frame = av.VideoFrame.from_ndarray(self._yuv, format="yuv420p")
        frame.pts = self.frames
        self.frames += 1
        self.container.mux(self.video.encode(frame))

    def write_audio(self, samples: np.ndarray) -> None:
        """samples: float32 (channels, n) at audio_rate in audio_layout."""
        if self.audio is None or samples.shape[1] == 0:
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=self.audio_layout)
        frame.sample_rate = self.audio_rate
        frame.pts = self.audio_samples
        frame.time_base = Fraction(1, self.audio_rate)
        self.audio_samples += samples.shape[1]
        self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a half-written file may fail; the file is deleted anyway
            pass
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoProbe:
    frames: int
    width: int
    height: int
    fps: float
    video_duration: float
    audio_duration: float
    audio_rate: int | None


def stream_time_base(stream: av.AudioStream | av.VideoStream) -> Fraction:
    """The stream's time base (FFmpeg gives every stream of an opened file one; PyAV types it as optional)."""
    if stream.time_base is None:
        raise ValueError(f"stream #{stream.index} has no time base")
    return stream.time_base


def stream_fps(stream: av.VideoStream) -> float:
    """Frames per second: the stream's average rate, else FFmpeg's guess."""
    rate = stream.average_rate or stream.guessed_rate
    if rate is None:
        raise ValueError(f"video stream #{stream.index} has no frame rate")
    return float(rate)


def iter_video_frames(path: str | Path, *, format: str = "bgr24") -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format=format)


def probe_output(path: str | Path) -> VideoProbe:
    """Measure an MP4 by decoding it: counted frames and samples, not header claims."""
    with av.open(str(path)) as container:
        vstream = container.streams.video[0]
        fps = stream_fps(vstream)
        width, height = vstream.codec_context.width, vstream.codec_context.height
        frames = sum(1 for _ in container.decode(vstream))
    samples, rate = 0, None
    with av.open(str(path)) as container:
        if container.streams.audio:
            astream = container.streams.audio[0]
            rate = astream.codec_context.sample_rate
            for frame in container.decode(astream):
                samples += frame.samples
            if astream.duration is not None and astream.time_base == Fraction(1, rate):
                samples = min(samples, astream.duration)  # the muxer's count leaves out AAC's final padding
    return VideoProbe(
        frames=frames,
        width=width,
        height=height,
        fps=fps,
        video_duration=frames / fps if fps else 0.0,
        audio_duration=samples / rate if rate else 0.0,
        audio_rate=rate,
    )


@dataclass(frozen=True)
class AudioWindow:
    path: Path
    duration: float


def write_audio_window(
    source: str | Path, target: str | Path, *, start: float = 0.0, end: float | None = None, rate: int | None = None
) -> AudioWindow:
    """Decode [start, end) of an audio file into a 16-bit mono WAV (for backends that want a file)."""
    reader = AudioReader(source, rate=rate, start=start, end=end)
    with av.open(str(target), mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=reader.rate, layout="mono")
        position = 0
        for chunk in reader:
            pcm = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            frame.sample_rate, frame.pts = reader.rate, position
            position += pcm.shape[1]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    if reader.source_samples == 0:
        raise EmptyAudioError(f"{Path(source).name} contains no audio samples in the requested range")
    return AudioWindow(Path(target), reader.duration)


def _interleave(
    writer: Mp4Writer, frames: Iterator[np.ndarray], audio: Iterator[np.ndarray], count: int, fps: int
) -> None:
    audio_written, last = 0, None
    for index in range(count):
        last = next(frames, last)  # a source that ends early holds its last frame: the audio is never cut
        if last is None:
            raise ValueError("the video source gave no frames")  # mux_with_audio's source always starts with one
        writer.write_frame(last)
        while audio_written < (index + 1) * writer.audio_rate / fps:
            chunk = next(audio, None)
            if chunk is None:
                break
            writer.write_audio(chunk)
            audio_written += chunk.shape[1]
    for chunk in audio:
        writer.write_audio(chunk)


def mux_with_audio(
    video: str | Path,
    audio: str | Path,
    output: str | Path,
    *,
    fps: int,
    metadata: dict[str, str] | None = None,
    overlay=None,
) -> VideoProbe:
    """A backend's silent video plus the audio, re-timed so the video lasts exactly as long as the audio."""
    info = probe_audio(audio)
    rate, layout = encode_rate(info.sample_rate), encode_layout(info.channels)
    reader = AudioReader(audio, rate=rate, layout=layout)
    chunks = list(reader)  # backends that need this render short windows; the length is known only after decoding
    count = max(1, int(np.ceil(reader.duration * fps - 1e-6)))
    frames = iter_video_frames(video)
    first = next(frames)
    height, width = first.shape[:2]
    width, height = width - width % 2, height - height % 2
    writer = Mp4Writer(output, width, height, fps, audio_rate=rate, audio_layout=layout, metadata=metadata)
    finish = overlay or (lambda frame: frame)

    def cropped():
        yield finish(np.ascontiguousarray(first[:height, :width]))
        for frame in frames:
            yield finish(np.ascontiguousarray(frame[:height, :width]))

    try:
        _interleave(writer, cropped(), iter(chunks), count, fps)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return VideoProbe(count, width, height, float(fps), count / fps, reader.duration, rate)


def extract_frame(video: str | Path, target: str | Path, *, at_seconds: float = 0.0) -> None:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        chosen = None
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= at_seconds:
                break
    if chosen is not None:
        cv2.imwrite(str(target), chosen.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, 90])
