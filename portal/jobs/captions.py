"""A video's captions: what its player's <track> shows and what downloads as WebVTT or SubRip.

They come from one of three places, and the latest wins:
- the script the audio was spoken from (copied when the job is submitted, timed by the voice);
- the video's own speech, heard by a worker (the `make_captions` actor): aligned to a transcript the owner pastes,
  or recognised when there is none. Both are English only (the engine's bundled model is);
- a file the owner sends (WebVTT or SRT), or their corrections typed on the page, read strictly: a file that does
  not parse is refused whole and the captions stay as they were.
"""

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import dramatiq
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal import queue, storage
from portal.errors import Refusal
from portal.jobs.models import CaptionsSource, CaptionsStatus, Job
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
    Job.objects.filter(pk=job.pk).update(captions=[], captions_source="", captions_status="", captions_language="")
    job.refresh_from_db()
    return job


def _store(job: Job, made: list[captions.Cue], source: str, language_code: str) -> Job:
    fields = {
        "captions": [cue.as_list() for cue in made],
        "captions_source": source,
        "captions_language": language_code,
        "captions_status": "",
        "captions_error_code": "",
        "captions_error_message": "",
    }
    Job.objects.filter(pk=job.pk).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def is_making(job: Job, now=None) -> bool:
    """A worker is on it (a request older than every try's time limit was lost, and may be made again)."""
    if job.captions_status != CaptionsStatus.MAKING or job.captions_requested_at is None:
        return False
    return job.captions_requested_at > (now or timezone.now()) - STALE_AFTER


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
