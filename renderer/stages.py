"""The render stages, each a function with typed input and output.

load_audio -> analyse_audio -> preprocess_image -> animate (backend) -> encode_video (+ poster).
Only small per-frame arrays are kept; audio and frames are streamed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .audio_features import (
    ANALYSIS_RATE,
    SILENCE_FLOOR_DB,
    FrameFeatures,
    MotionDrivers,
    analyse_chunks,
    drivers_from_features,
    loudness_reference,
)
from .errors import (
    CanceledError,
    EmptyAudioError,
    FaceNotFrontalError,
    FaceTooSmallError,
    NoFaceError,
    ParameterError,
    SilentAudioError,
    UnreadableImageError,
)
from .face import Face, detect_faces, face_pose
from .media import AudioReader, Mp4Writer, encode_layout, encode_rate, probe_audio
from .params import RenderParams
from .spans import stage

# Features near a segment edge need this much audio on each side to equal a whole-file analysis.
CONTEXT_SECONDS = 1.5
MIN_FACE_PIXELS = 48
# The animator moves the jaw straight down the picture and paints the mouth's inside between lips seen from the
# front: past these it would draw a mouth that does not belong to the face, so such portraits are refused.
MAX_FACE_TURN = 0.6  # nose off the face's middle, in half face widths (a three-quarter view is about 0.5)
MAX_FACE_ROLL_DEGREES = 25.0

ProgressCallback = Callable[[float, str], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class AudioSource:
    path: Path
    sample_rate: int
    channels: int
    start: float  # seconds into the file
    end: float | None  # None: to the end of the file


@dataclass(frozen=True)
class AudioAnalysis:
    duration: float  # decoded duration of the rendered window, seconds
    fps: int
    first_frame: int  # absolute frame number of the window's first frame
    frame_count: int
    loudness_ref_db: float
    drivers: MotionDrivers  # exactly frame_count entries

    def time_of(self, frame_offset: int) -> float:
        return (self.first_frame + frame_offset) / self.fps


@dataclass(frozen=True)
class PreparedPortrait:
    image: np.ndarray  # BGR uint8, output size (even dimensions)
    face: Face  # landmarks in output pixels
    faces_found: int
    face_index: int
    crop_box: tuple[int, int, int, int]  # in the source image
    face_box: tuple[int, int, int, int] = (0, 0, 0, 0)  # the animated face, in the source image


@dataclass
class EncodeResult:
    frames: int
    width: int
    height: int
    poster_path: Path | None
    seconds_encoding: float = 0.0
    extra: dict = field(default_factory=dict)


def load_audio(path: str | Path, start: float = 0.0, end: float | None = None) -> AudioSource:
    info = probe_audio(path)
    return AudioSource(Path(path), info.sample_rate, info.channels, start, end)


def analyse_audio(source: AudioSource, fps: int, loudness_ref_db: float | None = None) -> AudioAnalysis:
    """One streaming decode: exact duration plus per-frame features of the window (with context)."""
    context_start = max(0.0, source.start - CONTEXT_SECONDS)
    context_end = None if source.end is None else source.end + CONTEXT_SECONDS
    reader = AudioReader(source.path, rate=ANALYSIS_RATE, start=context_start, end=context_end)
    features: FrameFeatures = analyse_chunks(reader, fps, start_time=context_start)
    file_end = context_start + reader.duration  # where the decoded audio really stops
    window_end = file_end if source.end is None else min(source.end, file_end)
    duration = window_end - source.start
    if duration <= 0 or reader.source_samples == 0:
        raise EmptyAudioError(f"{source.path.name} contains no audio samples in the requested range")
    first_frame = int(round(source.start * fps))
    frame_count = max(1, math.ceil(duration * fps - 1e-6))
    if loudness_ref_db is None:
        loudness_ref_db = loudness_reference(features.db)
    if loudness_ref_db <= SILENCE_FLOOR_DB and source.start == 0 and source.end is None:
        raise SilentAudioError(f"{source.path.name} is silent: there is no speech to animate")
    drivers = drivers_from_features(features, loudness_ref_db)
    lo = first_frame - features.first_frame
    drivers = MotionDrivers(
        *(
            _fit(values[lo:], frame_count)
            for values in (drivers.mouth_open, drivers.spread, drivers.energy, drivers.closure)
        )
    )
    return AudioAnalysis(duration, fps, first_frame, frame_count, loudness_ref_db, drivers)


def _fit(values: np.ndarray, count: int) -> np.ndarray:
    # The last frame may extend a few ms past the final hop: hold the last value (or silence).
    if len(values) >= count:
        return values[:count]
    fill = values[-1] if len(values) else 0.0
    return np.concatenate([values, np.full(count - len(values), fill, values.dtype)])


def output_size(crop_width: int, crop_height: int, resolution: int) -> tuple[int, int]:
    """Shorter side = resolution, aspect ratio kept, both sides even."""
    scale = resolution / min(crop_width, crop_height)
    width = max(2, int(round(crop_width * scale / 2)) * 2)
    height = max(2, int(round(crop_height * scale / 2)) * 2)
    return width, height


def preprocess_image(path: str | Path, params: RenderParams) -> PreparedPortrait:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UnreadableImageError(f"cannot read an image from {Path(path).name}")
    faces = detect_faces(image)
    if not faces:
        raise NoFaceError("no face was found in the portrait; use a photo with one clearly visible face")
    index = params.face_index or 0
    if index >= len(faces):
        raise ParameterError(f"face_index={index} but only {len(faces)} face(s) were found", field="face_index")
    face = faces[index]
    if face.size < MIN_FACE_PIXELS:
        raise FaceTooSmallError(f"the face is {face.size:.0f} px across; at least {MIN_FACE_PIXELS} px are needed")
    turn, roll = face_pose(face)
    if turn > MAX_FACE_TURN:
        raise FaceNotFrontalError(
            "the face is turned too far from the camera to animate; use a photo where the face looks towards the "
            "camera (a slight turn is fine)"
        )
    if abs(roll) > MAX_FACE_ROLL_DEGREES:
        raise FaceNotFrontalError(
            f"the head is tilted {abs(roll):.0f} degrees; use a photo with the head upright "
            f"(at most {MAX_FACE_ROLL_DEGREES:.0f} degrees of tilt)"
        )
    height, width = image.shape[:2]
    if params.crop_face:
        x0, y0, x1, y1 = face.box
        margin_x = (x1 - x0) * params.expand_ratio
        # Faces need more room above (hair) than below; keep the crop centred on the face otherwise.
        margin_top = (y1 - y0) * (params.expand_ratio + 0.15)
        margin_bottom = (y1 - y0) * params.expand_ratio
        box = (
            max(0, int(x0 - margin_x)),
            max(0, int(y0 - margin_top)),
            min(width, int(math.ceil(x1 + margin_x))),
            min(height, int(math.ceil(y1 + margin_bottom))),
        )
    else:
        box = (0, 0, width, height)
    cx0, cy0, cx1, cy1 = box
    crop = image[cy0:cy1, cx0:cx1]
    out_w, out_h = output_size(cx1 - cx0, cy1 - cy0, params.resolution)
    scaled = cv2.resize(
        crop,
        (out_w, out_h),
        interpolation=cv2.INTER_AREA if out_w < crop.shape[1] else cv2.INTER_CUBIC,
    )
    scale_x, scale_y = out_w / crop.shape[1], out_h / crop.shape[0]
    points = (face.points - np.array([cx0, cy0], np.float32)) * np.array([scale_x, scale_y], np.float32)
    fx0, fy0, fx1, fy1 = face.box
    return PreparedPortrait(
        image=np.ascontiguousarray(scaled),
        face=Face(points.astype(np.float32)),
        faces_found=len(faces),
        face_index=index,
        crop_box=box,
        face_box=(round(fx0), round(fy0), round(fx1), round(fy1)),
    )


def pick_poster_frame(mouth_open: np.ndarray) -> int:
    """A frame with the mouth half open looks natural; a closed mouth is the fallback."""
    candidates = np.flatnonzero((mouth_open > 0.25) & (mouth_open < 0.6))
    return int(candidates[0]) if len(candidates) else 0


def encode_video(
    frames: Iterator[np.ndarray],
    analysis: AudioAnalysis,
    source: AudioSource,
    output_path: str | Path,
    size: tuple[int, int],
    *,
    poster_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    metadata: dict[str, str] | None = None,
) -> EncodeResult:
    """Encode frames as they are produced, interleaving the window's audio, into a faststart MP4.

    Traced as two stages: "animate" (frames made and encoded as they come, so memory stays flat; the span tells
    how the time split) and "encode_video" (the rest of the audio, flushing the encoder, writing the file)."""
    width, height = size
    rate = encode_rate(source.sample_rate)
    layout = encode_layout(source.channels)
    audio_chunks = iter(AudioReader(source.path, rate=rate, layout=layout, start=source.start, end=source.end))
    writer = Mp4Writer(
        output_path, width, height, analysis.fps, audio_rate=rate, audio_layout=layout, metadata=metadata
    )
    poster_index = pick_poster_frame(analysis.drivers.mouth_open)
    audio_written = 0
    written = 0
    encoding = 0.0
    try:
        with stage("animate") as animating:
            started = time.perf_counter()
            for index, frame in enumerate(frames):
                if should_cancel is not None and should_cancel():
                    raise CanceledError("the render was canceled")
                clock = time.perf_counter()
                writer.write_frame(frame)
                written += 1
                if index == poster_index and poster_path is not None:
                    cv2.imwrite(str(poster_path), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                # Keep audio just ahead of video so the muxer's interleaving buffer stays small.
                target = (index + 1) * rate / analysis.fps
                while audio_written < target:
                    chunk = next(audio_chunks, None)
                    if chunk is None:
                        break
                    writer.write_audio(chunk)
                    audio_written += chunk.shape[1]
                encoding += time.perf_counter() - clock
                if progress is not None and (index % 25 == 0 or index + 1 == analysis.frame_count):
                    progress((index + 1) / analysis.frame_count, "animate")
            animating.set(
                frames=written,
                animate__seconds=round(time.perf_counter() - started - encoding, 3),
                encode__seconds=round(encoding, 3),
            )
        with stage("encode_video") as finishing:
            for chunk in audio_chunks:  # whatever is left: nothing is ever cut
                writer.write_audio(chunk)
            writer.close()
            finishing.set(frames=written, width=width, height=height, output__bytes=Path(output_path).stat().st_size)
    except BaseException:
        writer.abort()
        raise
    poster = Path(poster_path) if poster_path else None
    return EncodeResult(frames=written, width=width, height=height, poster_path=poster)
