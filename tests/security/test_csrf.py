"""No cookie-authenticated route takes a POST without the CSRF token: a page on another site that makes a signed-in
user's browser post here gets 403 and changes nothing. Every route in the URL configuration is tried (a new one is
covered without being listed), the API included (a key needs no token; a session does). The exceptions take no
cookie's word for anything: Stripe's webhook and the course platform's LTI posts are signed instead, and the video
chooser in the course's frame (where no cookie of ours is sent) acts only for the teacher who confirmed it in a
window of our own, where the token is asked for (tests/lti)."""

import re
import uuid

from django.test import Client
from django.urls import URLResolver, get_resolver

from portal.jobs.models import Job
from portal.library.upload import receive
from tests.jobs_helpers import finished_job

CSRF_FREE = ("/billing/stripe/webhook/", "/lti/login/", "/lti/launch/", "/lti/pick/pro/")


def every_route() -> list[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield "/" + prefix + str(pattern.pattern)

    routes = []
    for route in walk(get_resolver().url_patterns):
        route = re.sub(r"<uuid:\w+>", str(uuid.uuid4()), route)
        route = re.sub(r"<(str|slug):\w+>", "pro", route)
        route = re.sub(r"\(\?P<\w+>[^)]*\)", "x", route).replace("^", "").replace("$", "").replace("\\Z", "")
        routes.append(route)
    return sorted(set(routes))


def test_every_route_refuses_a_post_without_the_token(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    job = finished_job(owner)
    accepted = []
    for path in every_route():
        if path.startswith(CSRF_FREE):
            continue
        response = browser.post(path, {"title": "pwned", "url": "http://127.0.0.1/", "days": "30"})
        # The API's catch-all answers an unknown address with 404, touching nothing.
        if response.status_code != 403 and not (path == "/api/v1/" and response.status_code == 404):
            accepted.append((path, response.status_code))
    assert accepted == []
    assert Job.objects.get(pk=job.pk).title == "" and not job.share_links.exists()


def test_tus_requests_need_the_token_too(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    upload = receive.start(owner, "audio", "b.wav", 5)
    part = browser.patch(
        f"/library/uploads/{upload.id}/",
        b"12345",
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )
    cancel = browser.delete(f"/library/uploads/{upload.id}/", HTTP_TUS_RESUMABLE="1.0.0")
    assert (part.status_code, cancel.status_code) == (403, 403)
    upload.refresh_from_db()
    assert upload.received == 0


def test_stripes_webhook_does_not_act_on_a_session_cookie(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    response = browser.post("/billing/stripe/webhook/", b"{}", content_type="application/json")
    assert response.status_code in (400, 503), "unsigned: refused (503 when billing is off)"
