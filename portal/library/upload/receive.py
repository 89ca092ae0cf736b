"""Uploads that arrive in parts and resume after a dropped connection, then wait for a worker's check.

The web side of an upload only stores bytes: each part goes to media storage as it arrives (no web machine keeps
anything, so any of them can take the next part), and the whole file is decoded, measured and searched for a face by
a worker (portal/library/upload/check.py). A request therefore holds a web process only for as long as its part takes to
arrive, whatever the file's size.
"""

import logging
import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from portal import queue, request_rates, storage
from portal.accounts.models import User
from portal.library import usage
from portal.library.errors import UploadRejected
from portal.library.models import Upload, UploadPart
from portal.library.upload import inspect

logger = logging.getLogger(__name__)

_READ_BLOCK = 64 * 1024
# Parts up to this size are held in memory while they arrive, larger ones on the temp disk.
_SPOOL_BYTES = 1024 * 1024


class OffsetMismatch(Exception):
    """The client's idea of how much arrived differs from ours: it must ask (HEAD) and resume from our offset."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


def _shown_name(sent: str | None) -> str:
    """A file's name as the library shows it: its last path component, printable characters only (as Django's own
    multipart parser leaves a form's file name), so every way in names a file the same."""
    name = "".join(
        character for character in (sent or "").replace("\\", "/").rsplit("/", 1)[-1] if character.isprintable()
    )
    return "" if name.strip() in ("", ".", "..") else name.strip()[-255:]


def start(user, kind: str, name: str, length: int) -> Upload:
    """Refuse what is wrong before a byte is sent (type by name, size, storage left, too many at once)."""
    if kind not in Upload.Kind.values:
        raise UploadRejected("invalid_kind", _("Say whether the file is a portrait or audio."))
    name = _shown_name(name)
    if not name:
        raise UploadRejected("no_file", _("Choose a file to upload."))
    inspect.check_declared(kind, name, length)
    with transaction.atomic():
        # The owner's row, locked: uploads started at once are counted one after the other, so no race passes the
        # limits (FOR NO KEY UPDATE, as every lock on the user row: foreign-key checks of other commits go on).
        User.objects.select_for_update(no_key=True).get(pk=user.pk)
        pending = dict(
            Upload.objects.filter(owner=user, status__in=(Upload.Status.RECEIVING, Upload.Status.CHECKING))
            .values_list("status")
            .annotate(count=Count("pk"))
        )
        receiving, checking = pending.get(Upload.Status.RECEIVING, 0), pending.get(Upload.Status.CHECKING, 0)
        if receiving >= settings.UPLOADS_UNFINISHED_MAX:
            raise UploadRejected(
                "too_many_uploads",
                _("You have %(count)s uploads that have not finished; finish or cancel one first.")
                % {"count": receiving},
                status=429,
            )
        # Each arrived file waits for a worker's decode, and every one arriving now will: a script that sends files
        # faster than they are checked is slowed here, not left to fill the check queue.
        if receiving + checking >= settings.UPLOADS_CHECKING_MAX:
            raise UploadRejected(
                "too_many_uploads",
                _("%(count)s of your files are still being checked; wait until one is ready.")
                % {"count": receiving + checking},
                status=429,
            )
        usage.reserve(user, length)
        return Upload.objects.create(
            owner=user, kind=kind, original_name=name, length=length, language=translation.get_language() or ""
        )


class PartsTooFast(UploadRejected):
    """More parts of one upload in a minute than UPLOAD_PART_REQUESTS_PER_MINUTE: retry after `retry_after` s."""

    def __init__(self, retry_after: int):
        super().__init__(
            "rate_limited",
            _("Too many parts of this upload in a minute; retry in %(seconds)s s.") % {"seconds": retry_after},
            status=429,
        )
        self.retry_after = retry_after


def count_part_request(upload: Upload) -> None:
    """One more part request for this upload in the current minute, or PartsTooFast. Counted in Redis; when Redis
    does not answer, the part is taken (its size and number are still limited)."""
    try:
        window = request_rates.count(f"upload:{upload.pk}", settings.UPLOAD_PART_REQUESTS_PER_MINUTE)
    except (RedisError, OSError):
        logger.warning("upload %s: parts not counted, Redis did not answer", upload.pk, exc_info=True)
        return
    if window.exceeded:
        raise PartsTooFast(window.reset_seconds)


def _finishes(upload: Upload, offset: int, length: int) -> bool:
    return offset + length == upload.length


def receive(upload: Upload, offset: int, body, declared_length: int) -> int:
    """Store one part that starts at `offset`; the new offset. What arrived before a dropped connection is kept when
    it is at least a part's minimum size.

    Every part but the last is at least UPLOAD_PART_MIN_BYTES and an upload has at most UPLOAD_PARTS_MAX of them,
    so the stored objects of one upload stay few whatever a client sends."""
    if upload.status != Upload.Status.RECEIVING or offset != upload.received:
        raise OffsetMismatch(upload.received)
    if offset + declared_length > upload.length:
        raise UploadRejected("upload_too_long", _("More bytes were sent than the upload declared."), status=413)
    if not _finishes(upload, offset, declared_length):
        if declared_length < settings.UPLOAD_PART_MIN_BYTES:
            raise UploadRejected(
                "part_too_small",
                _("Every part but the last must be at least %(limit)s bytes.")
                % {"limit": settings.UPLOAD_PART_MIN_BYTES},
            )
        if upload.parts.count() >= settings.UPLOAD_PARTS_MAX - 1:
            raise UploadRejected(
                "too_many_parts",
                _("This upload has %(count)s parts already: send the rest in one part.")
                % {"count": settings.UPLOAD_PARTS_MAX - 1},
                status=413,
            )
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as part:
        arrived = _copy_body(body, part, declared_length)
        if arrived == 0 or (arrived < settings.UPLOAD_PART_MIN_BYTES and not _finishes(upload, offset, arrived)):
            return upload.received  # cut off too early to keep as a part: the client sends it again from here
        part.seek(0)
        return _store_part(upload, offset, part, arrived)


def _copy_body(body, part, declared_length: int) -> int:
    arrived = 0
    while arrived < declared_length:
        try:
            block = body.read(min(_READ_BLOCK, declared_length - arrived))
        except OSError:  # the client went away mid-part (UnreadablePostError is one)
            break
        if not block:
            break
        part.write(block)
        arrived += len(block)
    return arrived


def _store_part(upload: Upload, offset: int, part, arrived: int) -> int:
    name = storage.save_file(storage.upload_part_key(upload.owner, upload.pk, offset), part)
    try:
        with transaction.atomic():
            locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
            if locked is None:
                raise Http404("the upload was cancelled while its part arrived")
            if locked.status != Upload.Status.RECEIVING or locked.received != offset:
                raise OffsetMismatch(locked.received)  # the same part arrived twice at once; the other one won
            UploadPart.objects.create(upload=locked, offset=offset, size=arrived, name=name)
            locked.received = offset + arrived
            if locked.received == locked.length:
                locked.status = Upload.Status.CHECKING
                transaction.on_commit(lambda: send_check(locked.pk))
            locked.save(update_fields=["received", "status", "updated_at"])
    except BaseException:
        storage.delete_files([name])
        raise
    return locked.received


def receive_whole(user, kind: str, file) -> Upload:
    """A file posted in one request (a form without JavaScript): stored as one part and checked like the others."""
    upload = start(user, kind, file.name, file.size)
    try:
        file.seek(0)
        receive(upload, 0, file, file.size)
    except BaseException:
        cancel(upload)
        raise
    upload.refresh_from_db()
    return upload


def send_check(upload_id) -> bool:
    """Ask a worker to check the arrived upload (portal/library/upload/check.py). False when the broker did not
    take the message."""
    try:
        queue.send(queue.CHECK_UPLOAD, queue.UPLOAD_CHECK_QUEUE, str(upload_id))
    except queue.BROKER_ERRORS:
        logger.warning(
            "upload %s: the broker did not take the check; the maintenance loop sends it", upload_id, exc_info=True
        )
        return False
    return True


def cancel(upload: Upload) -> bool:
    """Forget an upload that is still arriving or was refused (a cancel, a dismissed refusal): parts and quota go."""
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None or locked.status in (Upload.Status.CHECKING, Upload.Status.READY):
            return False
        locked.delete()  # its parts and the storage it held go with it (portal/library/signals.py)
    return True


def refuse(upload_id, code: str, message: str) -> None:
    """A checked file that cannot go into the library: the reason is kept for the owner, the bytes and quota go."""
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload_id, status=Upload.Status.CHECKING).first()
        if locked is None:
            return
        usage.release(locked.owner_id, locked.length)
        locked.parts.all().delete()  # their files go once this commits (portal/library/signals.py)
        locked.status, locked.error_code, locked.error_message = Upload.Status.REFUSED, code, message[:300]
        locked.save(update_fields=["status", "error_code", "error_message", "updated_at"])


def upkeep(now=None) -> dict:
    """Periodic: resend checks the broker lost, give up on checks that never end, forget abandoned uploads."""
    now = now or timezone.now()
    resent, gave_up, abandoned, forgotten = [], [], [], []
    checking = Upload.objects.filter(status=Upload.Status.CHECKING)
    for upload in checking.filter(updated_at__lt=now - timedelta(seconds=settings.UPLOAD_CHECK_GIVE_UP_SECONDS)):
        with translation.override(upload.language or settings.LANGUAGE_CODE):
            refuse(upload.pk, "check_failed", _("The file could not be checked; upload it again."))
        gave_up.append(upload.pk)
    for upload in checking.filter(updated_at__lt=now - timedelta(seconds=settings.UPLOAD_CHECK_RESEND_SECONDS)):
        if send_check(upload.pk):
            Upload.objects.filter(pk=upload.pk, status=Upload.Status.CHECKING).update(updated_at=now)
            resent.append(upload.pk)
    stale = now - timedelta(hours=settings.UPLOAD_ABANDONED_HOURS)
    for upload in Upload.objects.filter(status=Upload.Status.RECEIVING, updated_at__lt=stale):
        if cancel(upload):
            abandoned.append(upload.pk)
    done = Upload.objects.filter(
        status__in=(Upload.Status.READY, Upload.Status.REFUSED),
        updated_at__lt=now - timedelta(days=settings.UPLOAD_REFUSAL_KEPT_DAYS),
    )
    for upload in done:
        upload.delete()
        forgotten.append(upload.pk)
    return {
        "checks resent": resent,
        "checks given up": gave_up,
        "uploads abandoned": abandoned,
        "uploads forgotten": forgotten,
    }
