import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from billing.models import BillingAccount, Reservation
from portal import storage
from portal.jobs.models import Job
from portal.library.upload import store
from tests.factories import FIXTURES
from tests.media import upload


def reservation_state(job) -> str:
    return Reservation.objects.get(pk=job.reservation_id).state


def give_plan(user, code: str) -> None:
    BillingAccount.objects.update_or_create(user=user, defaults={"plan_override": code})


def fixture_inputs(user):
    portrait = store.add_portrait(user, upload("portrait.jpg", (FIXTURES / "portrait.jpg").read_bytes()))
    audio = store.add_audio(user, upload("speech.wav", (FIXTURES / "speech.wav").read_bytes()))
    return portrait, audio


def form_data(portrait, audio, **options) -> dict:
    """The new-video form as a browser posts it, at the quickest size; `options` override its fields."""
    data = {
        "portrait": portrait.id,
        "audio": audio.id,
        "resolution": 256,
        "dynamic_scale": 1.0,
        "motion_scale": 1.0,
        "expand_ratio": 0.5,
        "crop_face": "on",
    }
    data.update(options)
    return data


def speech_inputs(user, seconds: float, portrait=None):
    """The fixture speech cut or repeated to `seconds`, in the user's library (with the fixture portrait)."""
    import tempfile
    from pathlib import Path

    from renderer.qualify.cases import looped_speech

    with tempfile.TemporaryDirectory() as workdir:
        speech = looped_speech(seconds, Path(workdir) / f"speech-{seconds:g}s.wav")
        audio = store.add_audio(user, upload(speech.name, speech.read_bytes()))
    if portrait is None:
        portrait = store.add_portrait(user, upload("portrait.jpg", (FIXTURES / "portrait.jpg").read_bytes()))
    return portrait, audio


def finished_job(
    owner, status=Job.Status.SUCCEEDED, video=b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40, **fields
) -> Job:
    """A job row as a worker leaves it, for views that only show results."""
    output = default_storage.save(storage.new_key(owner, "renders", ".mp4"), ContentFile(video)) if video else ""
    poster = default_storage.save(storage.new_key(owner, "posters", ".jpg"), ContentFile(b"\xff\xd8poster"))
    defaults = dict(
        owner=owner,
        params={"resolution": 512},
        backend="builtin",
        queue_name="builtin-free",
        seed=1,
        status=status,
        audio_duration_seconds=9.7,
        quota_seconds=10,
        output=output,
        poster=poster,
    )
    defaults.update(fields)
    return Job.objects.create(**defaults)


def wait_for(job, statuses=Job.FINISHED, timeout=120.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stayed {job.status} ({job.stage}, {job.progress:.0%}) for {timeout} s")


def messages_in_queue(queue_name: str) -> int:
    """Messages queued or in flight on a queue of the run's Redis namespace."""
    import dramatiq

    broker = dramatiq.get_broker()
    return broker.client.hlen(f"{broker.namespace}:{queue_name}.msgs")


def eventually(condition, what: str, timeout: float = 60.0) -> None:
    """Wait until condition() is true: for effects that follow a commit (files deleted, messages sent)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
