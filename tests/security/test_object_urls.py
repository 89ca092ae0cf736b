"""Every URL that names an object by id or token, walked from the URL configuration itself (a new one that is not
listed here fails the first test): another user's object and a guessed id are 404 to every method, and the owner's
object is untouched afterwards."""

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

from billing.models import BillingAccount
from portal.api import keys
from portal.jobs import sharing
from portal.jobs.models import Job, ShareLink
from portal.library.models import AudioClip, Portrait, Script, Upload
from portal.library.upload import receive
from tests.api.conftest import key_client
from tests.jobs_helpers import finished_job
from tests.library_helpers import add_audio, add_portrait

# Routes with a parameter that are not an owner's object: allauth's emailed keys (their own checks, tested by
# allauth), plan codes (public), the public tokens, tested in test_download_links.py and test_job_share.py, and the
# staff's emailed second-factor setup link (test_staff_second_factor.py), and LTI's video chooser, whose launch id is
# a bearer secret that a signed-in outsider gets 404 for (tests/lti/test_deep_linking.py).
NOT_OBJECTS = {
    "account_confirm_email",
    "account_reset_password_from_key",
    "checkout",
    "download",
    "shared_video",
    "shared_video_file",
    "shared_video_poster",
    "shared_video_captions",
    "second_factor_setup_link",
    "pick_video",
    "pick_status",
    "pick_sign_in",
}
PARAMETERS = {"portrait_id", "audio_id", "job_id", "upload_id", "link_id", "key_id", "script_id", "file_format"}


def object_routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if "admin" not in str(pattern.pattern):  # staff only, tested in test_admin*.py
                    yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif "<" in str(pattern.pattern) and pattern.name not in NOT_OBJECTS:
                yield "/" + prefix + str(pattern.pattern), pattern.name

    return sorted(set(walk(get_resolver().url_patterns)))


ROUTES = object_routes()


def test_every_object_route_is_covered():
    named = {name for route, _ in ROUTES for name in re.findall(r"<\w+:(\w+)>", route)}
    assert named <= PARAMETERS, f"a route takes {named - PARAMETERS}: give its objects to `objects` below"


@pytest.fixture
def objects(owner):
    BillingAccount.objects.create(user=owner, plan_override="pro")
    portrait, clip = add_portrait(owner), add_audio(owner)
    job = finished_job(owner, portrait=portrait, audio=clip, captions=[[0.5, 1.5, "Hello."]])
    script = Script.objects.create(owner=owner, title="Lesson", text="Hello.", voice="en-joe", estimated_seconds=1)
    link = sharing.create(job, 7)
    upload = receive.start(owner, "audio", "talk.wav", 1000)
    key = keys.create(owner, "mine")[0]
    return {
        "portrait_id": portrait.id,
        "audio_id": clip.id,
        "job_id": job.id,
        "upload_id": upload.id,
        "link_id": link.id,
        "key_id": key.id,
        "script_id": script.id,
        "file_format": "vtt",
    }


def fill(route: str, values: dict) -> str:
    for name, value in values.items():
        route = route.replace(f"<uuid:{name}>", str(value)).replace(f"<str:{name}>", str(value))
    return route


def clients_for(route: str, *users) -> list[Client]:
    """Signed in as each user: with an API key of their own under /api/, with a session elsewhere."""
    clients = []
    for user in users:
        if route.startswith("/api/"):
            BillingAccount.objects.update_or_create(user=user, defaults={"plan_override": "pro"})
            clients.append(key_client(keys.create(user, "attack")[1]))
        else:
            client = Client()
            client.force_login(user)
            clients.append(client)
    return clients


@pytest.mark.parametrize("route, name", ROUTES, ids=[route for route, _ in ROUTES])
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete", "head"])
def test_someone_elses_and_guessed_objects_are_404(objects, owner, outsider, route, name, method):
    owners, outsiders = clients_for(route, owner, outsider)
    before = snapshot(owner)
    guessed = {key: uuid.uuid4() for key in objects} | {"file_format": "vtt"}
    for values in (objects, guessed):
        response = getattr(outsiders, method)(fill(route, values))
        # 405: this route does not take the method at all, whoever asks.
        assert response.status_code in (404, 405), (method, route, response.status_code)
        if response.status_code == 405:
            assert getattr(owners, method)(fill(route, values)).status_code == 405
    assert snapshot(owner) == before


def snapshot(owner) -> tuple:
    owner.refresh_from_db()
    return (
        sorted(Portrait.objects.filter(owner=owner).values_list("id", flat=True)),
        sorted(AudioClip.objects.filter(owner=owner).values_list("id", flat=True)),
        sorted(Job.objects.filter(owner=owner).values_list("id", "status", "title")),
        sorted(Upload.objects.filter(owner=owner).values_list("id", "received", "status")),
        sorted(ShareLink.objects.filter(job__owner=owner).values_list("id", "revoked_at")),
        sorted(Script.objects.filter(owner=owner).values_list("id", "status")),
        sorted(owner.api_keys.values_list("id", "revoked_at")) if hasattr(owner, "api_keys") else [],
        owner.storage_used_bytes,
    )
