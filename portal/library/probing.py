"""A worker's check of an arrived upload: decode and measure it (portrait: face search and thumbnail; audio:
duration, codec, waveform), then put it in the library or refuse it with its reason. Runs once per upload however
often its message is delivered."""

import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import translation

from portal import storage
from portal.library import receiving, uploads, validation
from portal.library.errors import UploadRejected
from portal.library.models import Upload


def check(upload_id) -> str:
    """The upload's status once checked (or as found, when another delivery of the message got there first)."""
    upload = Upload.objects.select_related("owner").filter(pk=upload_id).first()
    if upload is None or upload.status != Upload.Status.CHECKING:
        return upload.status if upload else "gone"
    with translation.override(upload.language or settings.LANGUAGE_CODE):
        try:
            return _check(upload)
        except UploadRejected as rejection:
            receiving.refuse(upload.pk, rejection.code, rejection.message)
            return Upload.Status.REFUSED


def _check(upload: Upload) -> str:
    with tempfile.TemporaryDirectory(prefix="upload-check-") as workdir:
        path = Path(workdir) / "upload"
        storage.assemble(upload.part_names(), path)
        with open(path, "rb") as handle:
            file = File(handle, name=upload.original_name)
            if upload.kind == Upload.Kind.PORTRAIT:
                checked = validation.check_portrait(file)
                face = uploads.face_search(checked)
                return _store(
                    upload, lambda: uploads.store_portrait(upload.owner, file, checked, face, reserved=upload.length)
                )
            checked = validation.check_audio(file)
            return _store(upload, lambda: uploads.store_audio(upload.owner, file, checked, reserved=upload.length))


def _store(upload: Upload, store) -> str:
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk, status=Upload.Status.CHECKING).first()
        if locked is None:
            return Upload.objects.filter(pk=upload.pk).values_list("status", flat=True).first() or "gone"
        item = store()
        setattr(locked, upload.kind, item)
        locked.status = Upload.Status.READY
        locked.save(update_fields=[upload.kind, "status", "updated_at"])
        locked.parts.all().delete()  # their files go once this commits (portal/library/signals.py)
    return Upload.Status.READY
