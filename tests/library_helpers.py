from portal.library import uploads
from tests.media import audio_bytes, image_bytes, upload


def add_portrait(user, name="me.png", **image_options):
    return uploads.add_portrait(user, upload(name, image_bytes("PNG", **image_options)))


def add_audio(user, name="talk.wav", seconds=2.0):
    return uploads.add_audio(user, upload(name, audio_bytes(".wav", seconds=seconds)))
