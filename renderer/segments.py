"""Long audio: plan_segments() cuts it at pauses into parts that different workers render, and concat() joins
the rendered parts into one MP4 without re-encoding the video.

Cuts fall on video-frame boundaries, so every part but the last has a whole number of frames and the joined
video's frame count is exactly that of a single render. Motion and blinks depend on absolute time (see
animator.py), so nothing jumps at a join.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .audio_features import ANALYSIS_RATE, HOP, hop_features, loudness_reference, pool_into_frames
from .errors import ConcatError, EmptyAudioError
from .media import AudioReader, stream_fps, stream_time_base

PAUSE_SECONDS = 0.3  # the quietest span this long is where a cut goes
EARLIEST_CUT = 0.5  # of max_seconds: parts are never shorter than this, unless the audio is


@dataclass(frozen=True)
class Segment:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class PartPlan:
    """How a long audio is rendered in parts: the parts, and the level every part opens the mouth against."""

    segments: list[Segment]
    duration: float
    loudness_reference_db: float  # loud speech of the whole audio (see audio_features.loudness_reference)


def plan_parts(audio_path: str | Path, max_seconds: float = 60.0, fps: int = 25) -> PartPlan:
    """One streaming decode of the whole audio (memory stays small): where to cut it, and its loudness reference,
    measured exactly as a single render of the whole file measures it, so that every part moves the mouth as that
    render would (no jump in amplitude at a join)."""
    reader = AudioReader(audio_path, rate=ANALYSIS_RATE)
    power, bands = hop_features(reader)
    if reader.source_samples == 0:
        raise EmptyAudioError(f"{Path(audio_path).name} contains no audio samples")
    reference = loudness_reference(pool_into_frames(power, bands, fps).db)
    levels = 10 * np.log10(power + 1e-10)  # every 10 ms
    return PartPlan(_cuts(levels, reader.duration, max_seconds, fps), reader.duration, reference)


def plan_segments(audio_path: str | Path, max_seconds: float = 60.0, fps: int = 25) -> list[Segment]:
    """Cut long audio at pauses into parts of at most max_seconds, every cut on a frame boundary at `fps`."""
    return plan_parts(audio_path, max_seconds, fps).segments


def _cuts(levels: np.ndarray, duration: float, max_seconds: float, fps: int) -> list[Segment]:
    if duration <= max_seconds:
        return [Segment(0.0, duration)]
    hops_per_second = ANALYSIS_RATE / HOP
    span = max(1, int(PAUSE_SECONDS * hops_per_second))
    smoothed = np.convolve(levels, np.ones(span) / span, mode="same")
    cuts, cursor = [0.0], 0.0
    while duration - cursor > max_seconds:
        lo = int((cursor + EARLIEST_CUT * max_seconds) * hops_per_second)
        hi = min(int((cursor + max_seconds) * hops_per_second), len(smoothed))
        # The quietest moment in the window; among equally quiet ones, the latest (longer parts, fewer joins).
        window = smoothed[lo:hi]
        quietest = lo + (len(window) - 1 - int(np.argmin(window[::-1])))
        cut = np.floor(quietest / hops_per_second * fps) / fps
        if cut <= cursor:
            cut = np.floor((cursor + max_seconds) * fps) / fps
        cuts.append(float(cut))
        cursor = float(cut)
    cuts.append(duration)
    return [Segment(a, b) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def concat(parts: Sequence[str | Path], output_path: str | Path) -> JoinedVideo:
    """Join rendered parts: video packets are copied, the audio is decoded and encoded once (AAC priming and
    padding of each part would otherwise add silence at every join). Returns the joined file's facts."""
    if not parts:
        raise ConcatError("nothing to join")
    inputs = [av.open(str(part)) for part in parts]
    try:
        first_video = inputs[0].streams.video[0]
        shape = (first_video.codec_context.width, first_video.codec_context.height, first_video.codec_context.name)
        for container, part in zip(inputs, parts, strict=True):
            video = container.streams.video[0]
            if (video.codec_context.width, video.codec_context.height, video.codec_context.name) != shape:
                raise ConcatError(f"{Path(part).name} does not match the first part's size or codec")
            if not container.streams.audio:
                raise ConcatError(f"{Path(part).name} has no audio track")
        first_audio = inputs[0].streams.audio[0]
        rate = first_audio.codec_context.sample_rate
        layout = first_audio.codec_context.layout.name
        with av.open(str(output_path), mode="w", format="mp4", options={"movflags": "faststart"}) as output:
            output.metadata.update(inputs[0].metadata)  # e.g. the "AI-generated" label every part carries
            out_video = output.add_stream_from_template(first_video)
            out_audio = output.add_stream("aac", rate=rate, layout=layout)
            out_audio.bit_rate = first_audio.codec_context.bit_rate or 64000
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            frames, samples = _join(inputs, parts, output, out_video, out_audio, resampler)
            for packet in out_audio.encode(None):
                output.mux(packet)
        fps = stream_fps(first_video)
        return JoinedVideo(Path(output_path), frames, shape[0], shape[1], frames / fps, samples / rate)
    finally:
        for container in inputs:
            container.close()


@dataclass(frozen=True)
class JoinedVideo:
    output_path: Path
    frames: int
    width: int
    height: int
    video_duration: float
    audio_duration: float


def _join(inputs, parts, output, out_video, out_audio, resampler) -> tuple[int, int]:
    video_offset, frames, samples = 0, 0, 0
    for container, part in zip(inputs, parts, strict=True):
        video = container.streams.video[0]
        ticks_per_frame = int(round(1 / (float(video.average_rate or video.guessed_rate) * video.time_base)))
        # A second handle on the file: demuxing video and decoding audio from one handle would steal packets.
        audio_frames = _trimmed_audio(part, resampler)
        pending = None
        part_frames = 0
        for packet in container.demux(video):
            if packet.dts is None:
                continue
            # Audio first, up to just past this frame: it opens the encoder before the MP4 header is written,
            # and interleaves the file so players can start before the end arrives.
            video_time = float(packet.pts * video.time_base)
            while True:
                if pending is None:
                    pending = next(audio_frames, None)
                if pending is None or pending[1] > video_time + 0.5:
                    break
                samples += _encode(output, out_audio, pending[0], samples)
                pending = None
            packet.pts += video_offset
            packet.dts += video_offset
            packet.stream = out_video
            output.mux(packet)
            part_frames += 1
        if pending is not None:
            samples += _encode(output, out_audio, pending[0], samples)
        for chunk, _ in audio_frames:
            samples += _encode(output, out_audio, chunk, samples)
        frames += part_frames
        video_offset += part_frames * ticks_per_frame
    return frames, samples


def _trimmed_audio(path, resampler):
    """The part's audio as (fltp samples, seconds), without the encoder padding past the stream's duration."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        limit = stream.duration  # in stream time_base: the real sample count recorded by the muxer
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                data = converted.to_ndarray()
                if limit is not None and frame.pts is not None:
                    data = data[:, : max(0, min(data.shape[1], limit - frame.pts))]
                if data.shape[1]:
                    yield data, float(frame.pts * stream_time_base(stream)) if frame.pts is not None else 0.0


def _encode(output, stream, data: np.ndarray, position: int) -> int:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="fltp", layout=stream.layout.name)
    frame.sample_rate = stream.rate
    frame.pts = position
    frame.time_base = Fraction(1, stream.rate)
    for packet in stream.encode(frame):
        output.mux(packet)
    return data.shape[1]
