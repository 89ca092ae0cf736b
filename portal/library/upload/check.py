"""A worker's check of an arrived upload (the `check_upload` actor): decode and measure it (portrait: face search
and thumbnail; audio: duration, codec, waveform), then put it in the library or refuse it with its reason. Runs once
per upload however often its message is delivered; receive.send_check sends it."""

import tempfile
from pathlib import Path

import dramatiq
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_noop

from portal import queue, storage
from portal.library.errors import UploadRejected
from portal.library.models import Upload
from portal.library.upload import inspect, receive, store


@dramatiq.actor(
    actor_name=queue.CHECK_UPLOAD,
    queue_name=queue.UPLOAD_CHECK_QUEUE,
    max_retries=queue.UPLOAD_CHECK_RETRIES,
    min_backoff=queue.UPLOAD_CHECK_MIN_BACKOFF_MS,
    time_limit=queue.UPLOAD_CHECK_TIME_LIMIT_MS,
)
def check_upload(upload_id: str) -> None:
    try:
        check(upload_id)
    except BaseException:  # TimeLimitExceeded too (it is not an Exception)
        if queue.last_delivery(queue.UPLOAD_CHECK_RETRIES):
            # Nothing more will try: tell the owner rather than leave it "checking" until the maintenance loop does.
            receive.refuse(upload_id, "check_failed", gettext_noop("The file could not be checked; upload it again."))
        raise


def check(upload_id) -> str:
    """The upload's status once checked (or as found, when another delivery of the message got there first)."""
    upload = Upload.objects.select_related("owner").filter(pk=upload_id).first()
    if upload is None or upload.status != Upload.Status.CHECKING:
        return upload.status if upload else "gone"
    with translation.override(upload.language or settings.LANGUAGE_CODE):
        try:
            return _check(upload)
        except UploadRejected as rejection:
            receive.refuse(upload.pk, rejection.code, rejection.message)
            return Upload.Status.REFUSED


def _check(upload: Upload) -> str:
    with tempfile.TemporaryDirectory(prefix="upload-check-") as workdir:
        path = Path(workdir) / "upload"
        storage.assemble(upload.part_names(), path)
        with open(path, "rb") as handle:
            file = File(handle, name=upload.original_name)
            if upload.kind == Upload.Kind.PORTRAIT:
                portrait = inspect.check_portrait(file)
                face = store.face_search(portrait)
                return _store(
                    upload, lambda: store.store_portrait(upload.owner, file, portrait, face, reserved=upload.length)
                )
            audio = inspect.check_audio(file)
            return _store(upload, lambda: store.store_audio(upload.owner, file, audio, reserved=upload.length))


def _store(upload: Upload, make_item) -> str:
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk, status=Upload.Status.CHECKING).first()
        if locked is None:
            return Upload.objects.filter(pk=upload.pk).values_list("status", flat=True).first() or "gone"
        item = make_item()
        setattr(locked, upload.kind, item)
        locked.status = Upload.Status.READY
        locked.save(update_fields=[upload.kind, "status", "updated_at"])
        locked.parts.all().delete()  # their files go once this commits (portal/library/signals.py)
    return Upload.Status.READY
