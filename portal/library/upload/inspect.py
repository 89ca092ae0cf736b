"""Decode every upload for real before anything is stored; refuse with a stable code and a plain message."""

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import av
import numpy as np
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.durations import duration_clock as _clock
from portal.library.errors import UploadRejected

IMAGE_FORMAT_BY_EXTENSION = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}
IMAGE_EXTENSION_BY_FORMAT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
THUMBNAIL_SIZE = (320, 320)


@dataclass(frozen=True)
class AudioKind:
    label: str
    extension: str
    content_type: str
    containers: frozenset[str]
    codecs: frozenset[str] | None  # None: any codec the container carries

    def matches(self, container: str, codec: str) -> bool:
        return container in self.containers and (self.codecs is None or codec in self.codecs)


_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
_OGG_CODECS = frozenset({"opus", "vorbis", "flac"})
_WEBM_CODECS = frozenset({"opus", "vorbis"})
AUDIO_KINDS = {
    ".wav": AudioKind("WAV", ".wav", "audio/wav", frozenset({"wav"}), None),
    ".mp3": AudioKind("MP3", ".mp3", "audio/mpeg", frozenset({"mp3"}), frozenset({"mp3", "mp3float"})),
    ".m4a": AudioKind("M4A (AAC)", ".m4a", "audio/mp4", frozenset({_MP4}), frozenset({"aac", "alac"})),
    ".aac": AudioKind("AAC", ".aac", "audio/aac", frozenset({"aac"}), frozenset({"aac"})),
    ".ogg": AudioKind("Ogg", ".ogg", "audio/ogg", frozenset({"ogg"}), _OGG_CODECS),
    ".oga": AudioKind("Ogg", ".ogg", "audio/ogg", frozenset({"ogg"}), _OGG_CODECS),
    ".opus": AudioKind("Opus", ".opus", "audio/ogg", frozenset({"ogg"}), frozenset({"opus"})),
    ".flac": AudioKind("FLAC", ".flac", "audio/flac", frozenset({"flac"}), frozenset({"flac"})),
    ".webm": AudioKind("WebM", ".webm", "audio/webm", frozenset({"matroska,webm"}), _WEBM_CODECS),
    ".weba": AudioKind("WebM", ".webm", "audio/webm", frozenset({"matroska,webm"}), _WEBM_CODECS),
}
# Below this peak level (-60 dBFS) a recording has nothing for a face to say.
SILENCE_PEAK = 10 ** (-60 / 20)
WAVEFORM_POINTS = 200


@dataclass(frozen=True)
class CheckedPortrait:
    image_format: str
    extension: str
    width: int
    height: int
    content: bytes
    thumbnail: bytes


@dataclass(frozen=True)
class CheckedAudio:
    extension: str
    content_type: str
    codec: str
    duration_seconds: float
    sample_rate: int
    channels: int
    waveform: list[int]


def _extension(upload) -> str:
    return _name_extension(upload.name)


def _name_extension(name: str | None) -> str:
    return PurePath(name or "").suffix.lower()


def _check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise UploadRejected("empty_file", _("The file is empty."))
    if size > max_bytes:
        raise UploadRejected(
            "file_too_large",
            _("The file is %(size)s; the limit is %(limit)s.")
            % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes)},
            status=413,
        )


def _portrait_format(extension: str) -> str:
    expected_format = IMAGE_FORMAT_BY_EXTENSION.get(extension)
    if expected_format is None:
        raise UploadRejected("unsupported_type", _("Portraits must be JPEG, PNG or WebP images (.jpg, .png, .webp)."))
    return expected_format


def _audio_kind(extension: str) -> AudioKind:
    kind = AUDIO_KINDS.get(extension)
    if kind is None:
        raise UploadRejected(
            "unsupported_type", _("Audio must be WAV, MP3, M4A/AAC, OGG/Opus, FLAC or WebM (.wav, .mp3, .m4a, ...).")
        )
    return kind


def check_declared(kind: str, name: str, size: int) -> None:
    """What is refused before a byte is received: a file type we do not take by its name, and its declared size."""
    if kind == "portrait":
        _check_size(size, settings.PORTRAIT_MAX_BYTES)
        _portrait_format(_name_extension(name))
    else:
        _check_size(size, settings.AUDIO_MAX_BYTES)
        _audio_kind(_name_extension(name))


def check_portrait(upload) -> CheckedPortrait:
    _check_size(upload.size, settings.PORTRAIT_MAX_BYTES)
    extension = _extension(upload)
    expected_format = _portrait_format(extension)

    upload.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image: Image.Image = Image.open(upload)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRejected(
                "decompression_bomb", _("The image declares far more pixels than it could hold; it was refused.")
            ) from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise UploadRejected("unreadable_image", _("The file could not be read as an image.")) from None

        if image.format != expected_format:
            raise UploadRejected(
                "format_mismatch",
                _(
                    "The file is named %(extension)s but its content is %(content)s; rename it or export it as JPEG, "
                    "PNG or WebP."
                )
                % {"extension": extension, "content": image.format or _("something else")},
            )
        if getattr(image, "n_frames", 1) > 1:
            raise UploadRejected("animated_image", _("Animated images are not supported; upload a still photo."))
        min_side, max_side = settings.PORTRAIT_MIN_SIDE, settings.PORTRAIT_MAX_SIDE
        # Checked on the header, before decoding, so a huge image costs nothing.
        if max(image.size) > max_side:
            raise UploadRejected(
                "image_too_large",
                _("The image is %(width)s×%(height)s px; the largest side may be %(limit)s px.")
                % {"width": image.width, "height": image.height, "limit": max_side},
            )
        try:
            image.load()
        except (OSError, SyntaxError, ValueError):
            raise UploadRejected("unreadable_image", _("The image is damaged or incomplete.")) from None

    image = ImageOps.exif_transpose(image)
    if min(image.size) < min_side:
        raise UploadRejected(
            "image_too_small",
            _(
                "The image is %(width)s×%(height)s px; each side needs at least %(minimum)s px for a face to be "
                "animated."
            )
            % {"width": image.width, "height": image.height, "minimum": min_side},
        )
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha and expected_format != "JPEG" else "RGB")
    return CheckedPortrait(
        image_format=expected_format,
        extension=IMAGE_EXTENSION_BY_FORMAT[expected_format],
        width=image.width,
        height=image.height,
        content=_encode_without_metadata(image, expected_format),
        thumbnail=_thumbnail(image),
    )


# Pillow's save() options per format: near-lossless JPEG and WebP, smallest lossless PNG.
ENCODER_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 95},
    "PNG": {"optimize": True},
    "WEBP": {"quality": 95},
}


def _encode_without_metadata(image: Image.Image, image_format: str) -> bytes:
    """Re-encode the oriented pixels: EXIF (GPS included) is dropped and orientation is baked in."""
    buffer = io.BytesIO()
    options = ENCODER_OPTIONS[image_format]
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    if thumb.mode == "RGBA":
        background = Image.new("RGB", thumb.size, "white")
        background.paste(thumb, mask=thumb.getchannel("A"))
        thumb = background
    thumb.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def check_audio(upload) -> CheckedAudio:
    _check_size(upload.size, settings.AUDIO_MAX_BYTES)
    extension = _extension(upload)
    kind = _audio_kind(extension)
    upload.seek(0)
    try:
        container = av.open(upload, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError):
        raise UploadRejected("unreadable_audio", _("The file could not be read as audio.")) from None
    with container:
        return _measure_audio(container, kind, extension)


def _measure_audio(container, kind: AudioKind, extension: str) -> CheckedAudio:
    pictures = {s.index for s in container.streams.video if s.disposition & av.stream.Disposition.attached_pic}
    has_video = any(s.index not in pictures for s in container.streams.video)
    if not container.streams.audio:
        code = "not_audio" if has_video else "unreadable_audio"
        raise UploadRejected(code, _("The file contains no audio track."))
    if has_video:
        raise UploadRejected("not_audio", _("The file contains video; upload the audio track on its own."))

    stream = container.streams.audio[0]
    codec = stream.codec_context.name
    if not kind.matches(container.format.name, codec):
        actual = next((k for k in AUDIO_KINDS.values() if k.matches(container.format.name, codec)), None)
        if actual:
            message = _("The file is named %(extension)s but contains %(kind)s audio; rename it to %(actual)s.") % {
                "extension": extension,
                "kind": actual.label,
                "actual": actual.extension,
            }
        else:
            message = _(
                "The file is named %(extension)s but contains %(content)s; export it as WAV, MP3, M4A, Ogg, "
                "FLAC or WebM."
            ) % {"extension": extension, "content": f"{container.format.long_name} ({codec})"}
        raise UploadRejected("format_mismatch", message)

    max_seconds, sample_rate = settings.AUDIO_MAX_SECONDS, stream.codec_context.sample_rate or stream.rate
    samples, peak, frame_peaks = 0, 0.0, []
    try:
        for frame in container.decode(stream):
            sample_rate = frame.sample_rate or sample_rate
            samples += frame.samples
            frame_peak = _peak(frame)
            frame_peaks.append((samples, frame_peak))
            peak = max(peak, frame_peak)
            if samples / sample_rate > max_seconds:
                raise UploadRejected(
                    "audio_too_long", _("The audio is longer than %(limit)s.") % {"limit": _clock(max_seconds)}
                )
    except av.FFmpegError:
        position = samples / sample_rate if sample_rate else 0
        raise UploadRejected(
            "unreadable_audio",
            _("The audio is damaged: decoding failed after %(position)s.") % {"position": _clock(position)},
        ) from None

    duration = samples / sample_rate if sample_rate else 0.0
    if duration == 0:
        raise UploadRejected("empty_audio", _("The file contains no audio samples."))
    if duration < settings.AUDIO_MIN_SECONDS:
        raise UploadRejected(
            "audio_too_short",
            _("The audio lasts %(duration)s s; at least %(minimum)s s is needed.")
            % {"duration": number_format(duration, 2), "minimum": number_format(settings.AUDIO_MIN_SECONDS)},
        )
    if peak < SILENCE_PEAK:
        raise UploadRejected("silent_audio", _("The audio is silent: nothing above -60 dB was found."))
    return CheckedAudio(
        extension=kind.extension,
        content_type=kind.content_type,
        codec=codec,
        duration_seconds=duration,
        sample_rate=sample_rate,
        channels=stream.codec_context.channels,
        waveform=_waveform(frame_peaks, samples),
    )


def _waveform(frame_peaks: list[tuple[int, float]], total_samples: int) -> list[int]:
    """The loudest level of each of WAVEFORM_POINTS equal slices of time, 0-100, for drawing the audio."""
    points = [0.0] * WAVEFORM_POINTS
    start = 0
    for end, level in frame_peaks:  # a frame longer than a slice (a short clip) fills every slice it covers
        for index in range(start * WAVEFORM_POINTS // total_samples, (end - 1) * WAVEFORM_POINTS // total_samples + 1):
            points[index] = max(points[index], level)
        start = end
    loudest = max(points) or 1.0
    return [round(100 * point / loudest) for point in points]


def _peak(frame) -> float:
    """Largest absolute sample of a decoded frame, as a fraction of full scale."""
    samples = frame.to_ndarray()
    if samples.size == 0:
        return 0.0
    if np.issubdtype(samples.dtype, np.floating):
        return float(np.max(np.abs(samples)))
    if samples.dtype == np.uint8:
        return float(np.max(np.abs(samples.astype(np.int16) - 128))) / 128
    return float(np.max(np.abs(samples.astype(np.int64)))) / float(np.iinfo(samples.dtype).max)
