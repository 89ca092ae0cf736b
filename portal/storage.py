"""The one module that names storage keys and hands stored files to browsers.

Keys are `users/<storage prefix>/<kind>/<random>.<ext>`: server-generated, under the owner's prefix, never
derived from anything the user typed. Files are private: on a local disk they are streamed by our views (with
HTTP Range support so players can seek); on S3-compatible storage the views redirect to a short-lived presigned
URL. Switching is a settings change (MEDIA_STORAGE).
"""

import base64
import logging
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.http import content_disposition_header

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
# At most 18 digits a bound (no file is an exabyte): longer numbers are not a range we serve, and Python refuses to
# convert more than 4,300 digits at all.
_SINGLE_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


def new_key(user, kind: str, extension: str) -> str:
    return f"users/{user.storage_prefix}/{kind}/{uuid.uuid4().hex}{extension}"


def upload_part_key(user, upload_id, offset: int) -> str:
    """One received part of a resumable upload, named by where it starts (a resent part gets a new name)."""
    return f"users/{user.storage_prefix}/incoming/{uuid.UUID(str(upload_id)).hex}/{offset:015d}-{uuid.uuid4().hex[:8]}"


def assemble(names, path: Path) -> int:
    """Concatenate stored parts into one local file, a block at a time (flat memory for any size); its length."""
    written = 0
    with open(path, "wb") as target:
        for name in names:
            with default_storage.open(name, "rb") as part:
                while block := part.read(_CHUNK * 16):
                    target.write(block)
                    written += len(block)
    return written


# --- Download links ----------------------------------------------------------------------------------------
# A link names one stored file of one job and expires; changing any character of it makes it invalid. Its token is
# encrypted (Fernet: AES-CBC with an HMAC), so holding one reveals neither the job nor where the file is stored.

_DOWNLOAD_SALT = "portal.storage.download"


class DownloadLinkExpired(Exception):
    pass


class DownloadLinkInvalid(Exception):
    pass


@dataclass(frozen=True)
class DownloadGrant:
    job_id: str
    name: str  # the storage name the link was made for


def _download_keys() -> MultiFernet:
    """One key per SECRET_KEY (the current one first, then SECRET_KEY_FALLBACKS): rotating it keeps links working."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(salted_hmac(_DOWNLOAD_SALT, "", secret=secret, algorithm="sha256").digest())
            )
            for secret in secrets
        ]
    )


def sign_download(job_id, name: str) -> str:
    return _download_keys().encrypt(f"{job_id}\n{name}".encode()).decode()


def download_path(job, name: str) -> str:
    """A signed link to one of the job's files, relative to the site (for pages)."""
    return reverse("jobs:download", args=[sign_download(job.id, name)])


def download_link(job, name: str) -> str:
    """The same, absolute on SITE_URL (for webhooks, emails, the API and the command line)."""
    return settings.SITE_URL + download_path(job, name)


def verify_download(token: str) -> DownloadGrant:
    keys = _download_keys()
    try:
        payload = keys.decrypt(token.encode())
        made_at = keys.extract_timestamp(token.encode())
        job_id, name = payload.decode().split("\n", 1)
    except (InvalidToken, ValueError, UnicodeError):
        raise DownloadLinkInvalid from None
    if time.time() - made_at > settings.DOWNLOAD_LINK_SECONDS:
        raise DownloadLinkExpired
    return DownloadGrant(job_id=job_id, name=name)


def _save(key: str, content) -> str:
    """Store content under key; a save that fails half-way (a full disk) leaves no partial file behind."""
    try:
        return default_storage.save(key, content)
    except BaseException:
        try:  # keys are random, so a file under this key can only be the partial one
            default_storage.delete(key)
        except Exception:
            logger.exception("could not delete the partial file %s", key)
        raise


def save_bytes(key: str, content: bytes) -> str:
    return _save(key, ContentFile(content))


def save_file(key: str, file) -> str:
    file.seek(0)
    return _save(key, file)


def save_local_file(key: str, path) -> str:
    with open(path, "rb") as handle:
        return _save(key, File(handle))


def download_to(name: str, directory: Path) -> Path:
    """Copy a stored file to a local path, for code (decoders, the renderer) that needs one; works with S3 too."""
    local = directory / f"{uuid.uuid4().hex}{PurePosixPath(name).suffix}"
    with default_storage.open(name, "rb") as source, open(local, "wb") as target:
        shutil.copyfileobj(source, target, _CHUNK)
    return local


def size(name: str) -> int:
    """Bytes of a stored file; 0 for no file."""
    return default_storage.size(name) if name else 0


def delete_files(names) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            # The row is already gone; a leftover object is logged for cleanup rather than failing the user.
            logger.exception("could not delete stored file %s", name)


def _is_local(storage) -> bool:
    try:
        storage.path("")
    except NotImplementedError:
        return False
    return True


class _PresignsWithHeaders(Protocol):
    """S3-compatible storage (django-storages' S3Storage): a presigned link that also sets the response's headers."""

    def url(self, name: str, parameters: dict[str, str] | None = None) -> str: ...


def _attachment(download_name: str) -> str:
    """The Content-Disposition of a download saved under `download_name` (RFC 6266, non-ASCII names included)."""
    return content_disposition_header(True, download_name) or "attachment"


def serve(request, name: str, content_type: str, download_name: str | None = None) -> HttpResponseBase:
    """Respond with a stored file for the user who owns it (callers check ownership first)."""
    if not _is_local(default_storage):
        parameters = {"ResponseContentType": content_type}
        if download_name:
            parameters["ResponseContentDisposition"] = _attachment(download_name)
        return HttpResponseRedirect(cast(_PresignsWithHeaders, default_storage).url(name, parameters=parameters))

    size = default_storage.size(name)
    byte_range = _requested_range(request.headers.get("Range", ""), size)
    if byte_range == "unsatisfiable":
        refusal = HttpResponse(status=416)
        refusal["Content-Range"] = f"bytes */{size}"
        return refusal
    handle = default_storage.open(name, "rb")
    response: HttpResponseBase
    if byte_range is None:
        response = FileResponse(
            handle, content_type=content_type, as_attachment=bool(download_name), filename=download_name or ""
        )
        if not download_name:  # FileResponse would name the stored file (its storage key) inline
            response.headers.pop("Content-Disposition", None)
    else:
        start, end = byte_range
        response = StreamingHttpResponse(_read_span(handle, start, end), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
        if download_name:
            response["Content-Disposition"] = _attachment(download_name)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _requested_range(header: str, size: int):
    """(start, end) inclusive for one satisfiable byte range, None for the whole file, or "unsatisfiable"."""
    match = _SINGLE_RANGE.match(header.strip())
    if not match:
        return None  # absent, or several ranges: answering with the whole file is always allowed
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


def _read_span(handle, start: int, end: int):
    with handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
