"""Test media made on the fly: real images (Pillow) and real encoded audio (PyAV) in every accepted format."""

import io

import av
import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw


def image_bytes(
    image_format="JPEG", size=(400, 500), exif_orientation=None, mode="RGB", noise=False, **save_options
) -> bytes:
    if noise:  # incompressible, for tests that need big files
        pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
    else:
        image = Image.new(mode, size, "#c8a07a" if mode == "RGB" else None)
    draw = ImageDraw.Draw(image)
    width, height = size
    # A marker in the top-left corner shows where the top-left ended up after orientation is applied.
    draw.rectangle([0, 0, width // 4, height // 4], fill="#ff0000" if mode == "RGB" else (255, 0, 0, 255))
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        exif[0x8825] = {2: (51.0, 30.0, 0.0)}  # GPS latitude: must not survive the upload
        save_options["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


def tone(seconds: float, rate: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


# (container format, codec, sample rate) for each accepted audio kind
AUDIO_ENCODINGS = {
    ".wav": ("wav", "pcm_s16le", 16000),
    ".mp3": ("mp3", "libmp3lame", 44100),
    ".m4a": ("ipod", "aac", 44100),
    ".aac": ("adts", "aac", 44100),
    ".ogg": ("ogg", "libopus", 48000),
    ".opus": ("ogg", "libopus", 48000),
    ".flac": ("flac", "flac", 44100),
    ".webm": ("webm", "libopus", 48000),
}


def audio_bytes(extension=".wav", seconds=2.0, amplitude=0.3, with_video=False) -> bytes:
    container_format, codec, rate = AUDIO_ENCODINGS[extension]
    samples = tone(seconds, rate, amplitude)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as output:
        stream = output.add_stream(codec, rate=rate, layout="mono")
        if with_video:
            video = output.add_stream("libx264", rate=25)
            video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
            for index in range(int(seconds * 25)):
                frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
                frame.pts = index
                output.mux(video.encode(frame))
            output.mux(video.encode(None))
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, len(samples), frame_size):
            chunk = (samples[start : start + frame_size] * 32767).astype(np.int16)[None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)
