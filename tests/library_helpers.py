"""Library items for tests: made directly, or sent as a browser without JavaScript does with the worker's check run
in the test."""

from dataclasses import dataclass

from django.test import TestCase

from portal.library.upload import check, store
from tests.factories import stored_files
from tests.media import audio_bytes, image_bytes, upload


def add_portrait(user, name="me.png", **image_options):
    return store.add_portrait(user, upload(name, image_bytes("PNG", **image_options)))


def add_audio(user, name="talk.wav", seconds=2.0):
    return store.add_audio(user, upload(name, audio_bytes(".wav", seconds=seconds)))


@dataclass
class Sent:
    http_status: int  # of the post: 202 when taken for checking, 4xx when refused at the door
    status: str  # "ready" or "refused", as the library then shows it
    body: dict

    @property
    def item_id(self) -> str:
        return self.body["item"]

    @property
    def error(self) -> dict:
        return self.body["error"]


def send_whole(client, url: str, name: str, content: bytes, **fields) -> Sent:
    response = client.post(url, {"file": upload(name, content), **fields}, headers={"Accept": "application/json"})
    if response.status_code != 202:
        return Sent(response.status_code, "refused", response.json())
    # The check a worker runs once the file has arrived (its queue message is sent after commit, which a test in a
    # rolled-back transaction never reaches); tests/library/test_upload_resumable.py runs it on a real worker.
    run_check(response.json()["id"])
    state = client.get(response["Location"]).json()
    return Sent(202, state["status"], state)


def run_check(upload_id) -> None:
    """The worker's check, with what it does after its commit (deleting the parts) run too."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        check.check(upload_id)


def assert_refused_and_nothing_kept(sent: Sent, code: str, owner, model, status: int | None = None) -> None:
    """The upload was refused with `code` and left no row of `model`, no stored file and no storage charged."""
    assert sent.status == "refused", sent
    assert sent.error["code"] == code
    assert sent.error["message"]
    if status:
        assert sent.http_status == status
    assert not model.objects.exists()
    assert stored_files() == []
    owner.refresh_from_db()
    assert owner.storage_used_bytes == 0
