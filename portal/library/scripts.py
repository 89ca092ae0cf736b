"""Scripts: a teacher's text, spoken by a worker (the `speak_script` actor) into an audio clip of their library,
with its captions on the clip. The clip is then rendered like any other audio; the quota counts its spoken seconds.

The renderer's speech engine (renderer/speech/) checks the text and says it; this module turns its refusals into
the portal's (translated, with the same codes) and stores what it said as an upload's check would.
"""

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import dramatiq
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal import queue
from portal.errors import Refusal
from portal.library.errors import UploadRejected
from portal.library.models import Script
from portal.library.upload import inspect, store
from renderer import speech

logger = logging.getLogger(__name__)

TITLE_MAX_LENGTH = 200
# A script still "speaking" this long after its time limit is not being said by anyone: its message is sent again.
RESEND_MARGIN = timedelta(minutes=2)


class ScriptRefused(Refusal):
    """A script the voice cannot say as written; nothing is stored."""


def voice_choices() -> list[tuple[str, str, bool]]:
    """(name, label, installed here) for every voice the engine knows."""
    return [(voice.name, voice.label, voice.installed()[0]) for voice in speech.VOICES.values()]


def _refusal(error: speech.ScriptError) -> ScriptRefused:
    details = error.details
    messages = {
        "empty_script": _("Write something for the voice to say."),
        "script_too_long": _("A script may be at most %(limit)s characters; this one has %(length)s.")
        % {"limit": details.get("limit"), "length": details.get("length")},
        "unsupported_characters": _(
            "This voice cannot say these characters: %(characters)s (line %(line)s). "
            "Remove them or choose another voice."
        )
        % {"characters": ", ".join(details.get("characters", [])), "line": (details.get("lines") or [""])[0]},
        "unknown_voice": _("There is no such voice; choose one from the list."),
        "voice_not_installed": _("This voice is not installed on this server; choose another."),
        "invalid_parameter": _("The speaking rate must be between %(minimum)s and %(maximum)s.")
        % {"minimum": details.get("minimum"), "maximum": details.get("maximum")},
    }
    return ScriptRefused(error.code, messages.get(error.code, error.message), field=error.field)


def prepare(text: str, voice: str, rate: float) -> speech.Prepared:
    """The checked script, or ScriptRefused: what the form and pre-flight call before anything is stored."""
    try:
        return speech.prepare(text, voice, rate)
    except speech.ScriptError as error:
        raise _refusal(error) from None


def start(user, title: str, text: str, voice: str, rate: float) -> Script:
    """Keep the script and ask a worker to say it."""
    prepared = prepare(text, voice, rate)
    title = " ".join(title.split())[:TITLE_MAX_LENGTH] or " ".join(prepared.units[0].text.split())[:60]
    script = Script.objects.create(
        owner=user,
        title=title,
        text=prepared.text,
        voice=prepared.voice.name,
        rate=prepared.rate,
        estimated_seconds=prepared.estimated_seconds,
        language=translation.get_language() or "",
    )
    transaction.on_commit(lambda: _send(script.pk))
    return script


def _send(script_id) -> None:
    if not _sent(script_id):
        refuse(script_id, "queue_unavailable", gettext_noop("The script could not be sent to a worker; try again."))


def _sent(script_id) -> bool:
    try:
        queue.send(queue.SPEAK_SCRIPT, queue.UPLOAD_CHECK_QUEUE, str(script_id))
    except queue.BROKER_ERRORS:
        logger.warning("script %s: the broker did not take it", script_id, exc_info=True)
        return False
    return True


def upkeep(now=None) -> dict:
    """Periodic: send again a script no worker finished within its time limit (the broker lost it, or the worker
    died), and give up on one that every try failed to say."""
    now = now or timezone.now()
    limit = timedelta(milliseconds=queue.SPEAK_SCRIPT_TIME_LIMIT_MS) + RESEND_MARGIN
    speaking = Script.objects.filter(status=Script.Status.SPEAKING)
    gave_up = list(
        speaking.filter(updated_at__lt=now - limit * (queue.SPEAK_SCRIPT_RETRIES + 1)).values_list("pk", flat=True)
    )
    for script_id in gave_up:
        refuse(script_id, "speech_failed", gettext_noop("The script could not be spoken; try again."))
    resent = []
    for script_id in speaking.filter(updated_at__lt=now - limit).values_list("pk", flat=True):
        if _sent(script_id):
            Script.objects.filter(pk=script_id, status=Script.Status.SPEAKING).update(updated_at=now)
            resent.append(script_id)
    return {"scripts resent": resent, "scripts given up": gave_up}


def delete(script: Script) -> None:
    """Forget a script: one that was said goes with its audio (store.delete_item also frees its storage)."""
    if script.audio is not None:
        store.delete_item(script.audio)
    else:
        script.delete()


def refuse(script_id, code: str, message: str) -> None:
    Script.objects.filter(pk=script_id, status=Script.Status.SPEAKING).update(
        status=Script.Status.REFUSED, error_code=code, error_message=message[:300]
    )


@dramatiq.actor(
    actor_name=queue.SPEAK_SCRIPT,
    queue_name=queue.UPLOAD_CHECK_QUEUE,
    max_retries=queue.SPEAK_SCRIPT_RETRIES,
    min_backoff=queue.UPLOAD_CHECK_MIN_BACKOFF_MS,
    time_limit=queue.SPEAK_SCRIPT_TIME_LIMIT_MS,
)
def speak_script(script_id: str) -> None:
    try:
        speak(script_id)
    except BaseException:  # TimeLimitExceeded too (it is not an Exception)
        if queue.last_delivery(queue.SPEAK_SCRIPT_RETRIES):
            refuse(script_id, "speech_failed", gettext_noop("The script could not be spoken; try again."))
        raise


def speak(script_id) -> str:
    """The script's status once said (or as found, when another delivery of the message got there first)."""
    script = Script.objects.select_related("owner").filter(pk=script_id).first()
    if script is None or script.status != Script.Status.SPEAKING:
        return script.status if script else "gone"
    with translation.override(script.language or settings.LANGUAGE_CODE):
        try:
            said = speech.speak(speech.prepare(script.text, script.voice, script.rate))
        except speech.ScriptError as error:  # the voice was removed from this worker since the script was written
            refuse(script.pk, error.code, error.message)
            return Script.Status.REFUSED
        with tempfile.TemporaryDirectory(prefix="script-") as workdir:
            path = Path(workdir) / "speech.flac"
            said.write_flac(path)
            with open(path, "rb") as handle:
                file = File(handle, name=f"{script.title[:200]}.flac")
                try:
                    checked = inspect.check_audio(file)
                    return _store(script, file, checked, [cue.as_list() for cue in said.cues])
                except UploadRejected as rejection:  # the library is full, most likely
                    refuse(script.pk, rejection.code, rejection.message)
                    return Script.Status.REFUSED


def _store(script: Script, file: File, checked: inspect.CheckedAudio, cues: list) -> str:
    with transaction.atomic():
        locked = Script.objects.select_for_update().filter(pk=script.pk, status=Script.Status.SPEAKING).first()
        if locked is None:
            return Script.objects.filter(pk=script.pk).values_list("status", flat=True).first() or "gone"
        clip = store.store_audio(script.owner, file, checked)
        clip.captions = cues
        clip.save(update_fields=["captions"])
        locked.audio, locked.status = clip, Script.Status.READY
        locked.save(update_fields=["audio", "status", "updated_at"])
    return Script.Status.READY
