"""Turning an accepted upload into stored files plus a row, all or nothing.

The web pages and the REST API (portal/api/) call these same functions.
"""

import tempfile
from pathlib import Path

from django.db import transaction
from django.http import Http404

import renderer
from portal import storage
from portal.library import usage
from portal.library.models import AudioClip, Portrait
from portal.library.upload import inspect


def _original_name(upload) -> str:
    return (upload.name or "upload")[-255:]


def face_search(checked: inspect.CheckedPortrait) -> dict:
    """The renderer's own face detection on the stored pixels: what the library, the API and pre-flight show."""
    with tempfile.TemporaryDirectory(prefix="face-") as workdir:
        path = Path(workdir) / f"portrait{checked.extension}"
        path.write_bytes(checked.content)
        try:
            face = renderer.find_face(path)
        except renderer.RenderError as error:
            return {"face_error_code": error.code, "face_error_message": error.message[:300]}
    return {"faces_found": face.faces_found, "face_box": list(face.box)}


def _count_storage(user, nbytes: int, reserved: int) -> None:
    """Count the stored size against the quota, in place of what an upload in parts held for it (`reserved`)."""
    if reserved:
        usage.release(user.pk, reserved)
    usage.reserve(user, nbytes)


def add_portrait(user, upload) -> Portrait:
    checked = inspect.check_portrait(upload)
    return store_portrait(user, upload, checked, face_search(checked))


def store_portrait(user, upload, checked: inspect.CheckedPortrait, face: dict, reserved: int = 0) -> Portrait:
    size = len(checked.content) + len(checked.thumbnail)
    stored: list[str] = []
    try:
        with transaction.atomic():
            _count_storage(user, size, reserved)
            stored.append(storage.save_bytes(storage.new_key(user, "portraits", checked.extension), checked.content))
            stored.append(storage.save_bytes(storage.new_key(user, "thumbnails", ".jpg"), checked.thumbnail))
            return Portrait.objects.create(
                owner=user,
                original_name=_original_name(upload),
                file=stored[0],
                thumbnail=stored[1],
                size_bytes=size,
                image_format=checked.image_format,
                width=checked.width,
                height=checked.height,
                **face,
            )
    except BaseException:
        storage.delete_files(stored)
        raise


def add_audio(user, upload) -> AudioClip:
    return store_audio(user, upload, inspect.check_audio(upload))


def store_audio(user, upload, checked: inspect.CheckedAudio, reserved: int = 0) -> AudioClip:
    stored: list[str] = []
    try:
        with transaction.atomic():
            _count_storage(user, upload.size, reserved)
            stored.append(storage.save_file(storage.new_key(user, "audio", checked.extension), upload))
            return AudioClip.objects.create(
                owner=user,
                original_name=_original_name(upload),
                file=stored[0],
                size_bytes=upload.size,
                duration_seconds=checked.duration_seconds,
                sample_rate=checked.sample_rate,
                channels=checked.channels,
                codec=checked.codec,
                content_type=checked.content_type,
                waveform=checked.waveform,
            )
    except BaseException:
        storage.delete_files(stored)
        raise


def delete_item(item: Portrait | AudioClip) -> None:
    """Delete a portrait or an audio clip with its files (portal/library/signals.py). One deleted meanwhile by
    another request is not found, as one that never was."""
    _count, deleted = item.delete()
    if not deleted.get(item._meta.label):
        raise Http404("deleted meanwhile")
