"""A video's captions: what its player's <track> shows, what downloads as WebVTT or SubRip, and optionally a copy of
the video with them drawn into the picture (the `burn_in_captions` actor), for players that show no caption track.

They come from one of three places, and the latest wins:
- the script the audio was spoken from (copied when the job is submitted, timed by the voice);
- the video's own speech, heard by a worker (the `make_captions` actor): aligned to a transcript the owner pastes,
  or recognised when there is none. Both are English only (the engine's bundled model is);
- a file the owner sends (WebVTT or SRT), or their corrections typed on the page, read strictly: a file that does
  not parse is refused whole and the captions stay as they were.

A burned-in copy shows the captions it was made with: changing or removing them deletes it.
"""

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import dramatiq
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal import queue, storage
from portal.errors import Refusal
from portal.jobs.models import BurnInStatus, CaptionsSource, CaptionsStatus, Job
from portal.library import usage
from renderer import burn_in as burning
from renderer import captions, media, speech
from renderer.errors import RenderError
from renderer.speech import script as script_rules

logger = logging.getLogger(__name__)

FORMATS = {
    "vtt": ("text/vtt; charset=utf-8", captions.to_webvtt),
    "srt": ("application/x-subrip", captions.to_srt),
}
# What the engine's recognition and alignment understand.
SPEECH_LANGUAGE = "en"
MAX_TRANSCRIPT_CHARACTERS = script_rules.MAX_CHARACTERS
# A request still "making" this long after its time limit was lost (its worker died): the owner may ask again.
STALE_AFTER = timedelta(milliseconds=queue.MAKE_CAPTIONS_TIME_LIMIT_MS) * (queue.MAKE_CAPTIONS_RETRIES + 1)
BURN_IN_STALE_AFTER = timedelta(milliseconds=queue.BURN_IN_TIME_LIMIT_MS) * (queue.BURN_IN_RETRIES + 1)


class CaptionsRefused(Refusal):
    """Captions we will not store or make; the video keeps the ones it had."""


def from_audio(audio) -> dict:
    """The Job fields a new video takes from its audio: a spoken script's captions, in its voice's language."""
    if not audio.captions:
        return {}
    script = getattr(audio, "script", None)
    voice = speech.VOICES.get(script.voice) if script is not None else None
    return {
        "captions": audio.captions,
        "captions_source": CaptionsSource.SCRIPT,
        "captions_language": voice.language if voice else "",
    }


def cues(job: Job) -> list[captions.Cue]:
    return [captions.Cue.from_list(stored) for stored in job.captions]


def language(job: Job) -> str:
    """The <track>'s srclang: what the captions are written in, else the reader's language."""
    return job.captions_language or translation.get_language() or "en"


def file_text(job: Job, file_format: str) -> tuple[str, str] | None:
    """(text, content type) of the captions in this format; None when there are none (or no such format)."""
    if not job.captions or file_format not in FORMATS:
        return None
    content_type, write = FORMATS[file_format]
    return write(cues(job)), content_type


def _video_seconds(job: Job) -> float | None:
    return job.output_duration_seconds or job.audio_duration_seconds


def _require_video(job: Job) -> None:
    if job.status != Job.Status.SUCCEEDED or not job.output:
        raise CaptionsRefused("video_not_ready", _("Captions can be added once the video is ready."), status=409)


def replace(job: Job, text: str) -> Job:
    """The owner's captions (WebVTT or SRT text) in place of the video's, or CaptionsRefused if they do not parse."""
    _require_video(job)
    try:
        parsed = captions.parse(text, _video_seconds(job))
    except captions.CaptionError as error:
        raise CaptionsRefused(
            "captions_invalid", _("These captions could not be read: %(reason)s") % {"reason": error.message}
        ) from None
    return _store(job, parsed, CaptionsSource.EDITED, job.captions_language or translation.get_language() or "")


def remove(job: Job) -> Job:
    return _store(job, [], "", "")


def _store(job: Job, made: list[captions.Cue], source: str, language_code: str) -> Job:
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        Job.objects.filter(pk=job.pk).update(
            captions=[cue.as_list() for cue in made],
            captions_source=source,
            captions_language=language_code,
            captions_status="",
            captions_error_code="",
            captions_error_message="",
            **_without_burned_in(locked),
        )
    job.refresh_from_db()
    return job


def _without_burned_in(locked: Job) -> dict:
    """The fields that forget the captioned copy (it shows the old captions), its file deleted once committed."""
    if locked.burned_in:
        name = locked.burned_in.name
        usage.release(locked.owner_id, locked.burned_in_bytes)
        transaction.on_commit(lambda: storage.delete_files([name]))
    return {
        "burned_in": "",
        "burned_in_bytes": 0,
        "stored_bytes": F("stored_bytes") - locked.burned_in_bytes,
        "burned_in_status": "",
        "burned_in_error_code": "",
    }


def is_making(job: Job, now=None) -> bool:
    """A worker is on it (a request older than every try's time limit was lost, and may be made again)."""
    return _in_progress(job.captions_status == CaptionsStatus.MAKING, job.captions_requested_at, STALE_AFTER, now)


def _in_progress(asked: bool, requested_at, stale_after: timedelta, now=None) -> bool:
    return asked and requested_at is not None and requested_at > (now or timezone.now()) - stale_after


def request(job: Job, transcript: str = "") -> Job:
    """Ask a worker to make captions from the video's speech: aligned to the transcript, else recognised."""
    _require_video(job)
    transcript = transcript.strip()
    if len(transcript) > MAX_TRANSCRIPT_CHARACTERS:
        raise CaptionsRefused(
            "transcript_too_long",
            _("A transcript may be at most %(limit)s characters.") % {"limit": MAX_TRANSCRIPT_CHARACTERS},
            field="transcript",
        )
    if is_making(job):
        raise CaptionsRefused("captions_in_progress", _("Captions are already being made for this video."), status=409)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        captions_status=CaptionsStatus.MAKING,
        captions_error_code="",
        captions_error_message="",
        captions_requested_at=now,
    )
    job.captions_status, job.captions_requested_at = CaptionsStatus.MAKING, now
    job.captions_error_code = job.captions_error_message = ""
    transaction.on_commit(lambda: _send(job.pk, transcript))
    return job


def _send(job_id, transcript: str) -> None:
    try:
        queue.send(queue.MAKE_CAPTIONS, queue.UPLOAD_CHECK_QUEUE, str(job_id), transcript)
    except queue.BROKER_ERRORS:
        logger.warning("job %s: the broker did not take its captions request", job_id, exc_info=True)
        _fail(job_id, "queue_unavailable", gettext_noop("The request could not be sent to a worker; try again."))


def _fail(job_id, code: str, message: str) -> None:
    Job.objects.filter(pk=job_id, captions_status=CaptionsStatus.MAKING).update(
        captions_status=CaptionsStatus.FAILED, captions_error_code=code, captions_error_message=message[:300]
    )


@dramatiq.actor(
    actor_name=queue.MAKE_CAPTIONS,
    queue_name=queue.UPLOAD_CHECK_QUEUE,
    max_retries=queue.MAKE_CAPTIONS_RETRIES,
    min_backoff=queue.UPLOAD_CHECK_MIN_BACKOFF_MS,
    time_limit=queue.MAKE_CAPTIONS_TIME_LIMIT_MS,
)
def make_captions(job_id: str, transcript: str) -> None:
    try:
        make(job_id, transcript)
    except BaseException:  # TimeLimitExceeded too (it is not an Exception)
        if queue.last_delivery(queue.MAKE_CAPTIONS_RETRIES):
            _fail(job_id, "captions_failed", gettext_noop("Captions could not be made; try again."))
        raise


def make(job_id, transcript: str) -> str:
    """Hear the video's own sound track (what viewers hear, whatever happened to its audio in the library)."""
    from renderer import transcribe  # only workers hear speech: the web process never loads the speech model

    job = Job.objects.filter(pk=job_id, captions_status=CaptionsStatus.MAKING).first()
    if job is None or not job.output:
        return "gone"
    with tempfile.TemporaryDirectory(prefix="captions-") as workdir:
        video = storage.download_to(job.output.name, Path(workdir))
        samples, sample_rate = media.read_audio(video, rate=transcribe.SAMPLE_RATE)
    try:
        if transcript:
            made, source = transcribe.align(samples, sample_rate, transcript), CaptionsSource.ALIGNED
        else:
            made, source = transcribe.recognise(samples, sample_rate), CaptionsSource.RECOGNISED
    except RenderError as error:
        _fail(job.pk, error.code, error.message)
        return CaptionsStatus.FAILED
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job.pk, captions_status=CaptionsStatus.MAKING).first()
        if locked is None:  # deleted, or the owner sent captions of their own meanwhile
            return "gone"
        _store(locked, made, source, SPEECH_LANGUAGE)
    return "made"


# --- Burned in ------------------------------------------------------------------------------------------------
def is_burning(job: Job, now=None) -> bool:
    burning = job.burned_in_status == BurnInStatus.BURNING
    return _in_progress(burning, job.burned_in_requested_at, BURN_IN_STALE_AFTER, now)


def request_burn_in(job: Job) -> Job:
    """Ask a worker for a copy of the video with its captions drawn in (nothing to do when it exists)."""
    _require_video(job)
    if not job.captions:
        raise CaptionsRefused("no_captions", _("Add captions to the video first, then burn them in."), status=409)
    if job.burned_in:
        return job
    if is_burning(job):
        raise CaptionsRefused("burn_in_in_progress", _("The captions are already being burned in."), status=409)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        burned_in_status=BurnInStatus.BURNING, burned_in_error_code="", burned_in_requested_at=now
    )
    job.burned_in_status, job.burned_in_error_code, job.burned_in_requested_at = BurnInStatus.BURNING, "", now
    transaction.on_commit(lambda: _send_burn_in(job.pk))
    return job


def _send_burn_in(job_id) -> None:
    try:
        queue.send(queue.BURN_IN_CAPTIONS, queue.UPLOAD_CHECK_QUEUE, str(job_id))
    except queue.BROKER_ERRORS:
        logger.warning("job %s: the broker did not take its burn-in request", job_id, exc_info=True)
        _burn_in_failed(job_id, "queue_unavailable")


def _burn_in_failed(job_id, code: str) -> None:
    Job.objects.filter(pk=job_id, burned_in_status=BurnInStatus.BURNING).update(
        burned_in_status=BurnInStatus.FAILED, burned_in_error_code=code
    )


@dramatiq.actor(
    actor_name=queue.BURN_IN_CAPTIONS,
    queue_name=queue.UPLOAD_CHECK_QUEUE,
    max_retries=queue.BURN_IN_RETRIES,
    min_backoff=queue.UPLOAD_CHECK_MIN_BACKOFF_MS,
    time_limit=queue.BURN_IN_TIME_LIMIT_MS,
)
def burn_in_captions(job_id: str) -> None:
    try:
        burn_in(job_id)
    except BaseException:  # TimeLimitExceeded too (it is not an Exception)
        if queue.last_delivery(queue.BURN_IN_RETRIES):
            _burn_in_failed(job_id, "burn_in_failed")
        raise


def burn_in(job_id) -> str:
    """Draw the captions as they are now into a copy; one that changed meanwhile makes the copy worthless."""
    job = Job.objects.filter(pk=job_id, burned_in_status=BurnInStatus.BURNING).first()
    if job is None or not job.output or not job.captions:
        return "gone"
    drawn = job.captions
    with tempfile.TemporaryDirectory(prefix="burn-in-") as workdir:
        video = storage.download_to(job.output.name, Path(workdir))
        copy = Path(workdir) / "captioned.mp4"
        try:
            burning.burn(video, copy, cues(job), language=job.captions_language or SPEECH_LANGUAGE)
        except RenderError as error:
            _burn_in_failed(job.pk, error.code)
            return BurnInStatus.FAILED
        size = copy.stat().st_size
        name = storage.save_local_file(storage.new_key(job.owner, "renders", ".mp4"), copy)
    with transaction.atomic():
        locked = Job.objects.select_for_update().filter(pk=job.pk, burned_in_status=BurnInStatus.BURNING).first()
        if locked is None or locked.captions != drawn:
            transaction.on_commit(lambda: storage.delete_files([name]))
            return "gone"
        Job.objects.filter(pk=job.pk).update(
            burned_in=name, burned_in_bytes=size, stored_bytes=F("stored_bytes") + size, burned_in_status=""
        )
        usage.add(job.owner_id, size)
    return "burned"
