"""What an outside probe sent that nothing behind the portal can store or look up: a NUL (%00) in a path, a query,
a cookie, a form field or a JSON string; a lone surrogate (\\ud800) in JSON; JSON nested 5,000 deep. Once these
were 500s (PostgreSQL refuses NUL in text, psycopg cannot encode a surrogate, Python's JSON parser runs out of
stack). Every URL of the URL configuration, walked here, answers 404 to such a path; the rest are 400 with a
stable code, and nothing is stored."""

import json
import re

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from billing.models import BillingAccount
from portal.api import keys
from portal.jobs.models import Job, WebhookEndpoint
from tests.api.conftest import key_client
from tests.jobs_helpers import finished_job

PARAMETER = re.compile(r"<(?:\w+:)?\w+>")


def every_route() -> list[str]:
    """Every URL pattern, admin's included, as a path."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            text = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + text)
            elif isinstance(pattern.pattern, RoutePattern):  # regex ones (admin's catch-all) name no parameter
                yield "/" + prefix + text

    return sorted(set(walk(get_resolver().url_patterns)))


ROUTES = [route for route in every_route() if PARAMETER.search(route)]


@pytest.fixture
def api(owner):
    BillingAccount.objects.create(user=owner, plan_override="pro")
    return key_client(keys.create(owner, "probe")[1])


@pytest.mark.parametrize("route", ROUTES)
def test_a_nul_in_any_path_parameter_is_404(route, owner):
    path = PARAMETER.sub("a%00b", route)
    signed_in = Client()
    signed_in.force_login(owner)
    for client in (Client(), signed_in):
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
    if route.startswith("/api/"):
        assert signed_in.get(path).json()["error"]["code"] == "not_found"


def test_the_watch_video_and_poster_paths_the_probe_named(client):
    for path in ("/watch/%00/", "/watch/%00/video.mp4", "/watch/%00/poster.jpg", "/jobs/download/%00/"):
        assert client.get(path).status_code == 404, path


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/jobs/?status=%00",
        "/jobs/?page=%00",
        "/library/?%00=1",
        "/accounts/login/?next=%00",
        "/api/v1/jobs/?status=%00",
        "/healthz?x=%00",
    ],
)
def test_a_nul_in_the_query_is_400(owner_client, api, path):
    if "?" not in path:
        path += "?q=a%00b"
    client = api if path.startswith("/api/") else owner_client
    response = client.get(path)
    assert response.status_code == 400, (path, response.status_code)
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "invalid_character"


def test_a_nul_in_admins_search_is_400(client, db):
    from portal.accounts.models import User
    from tests.factories import with_second_factor

    with_second_factor(client, User.objects.create_superuser(email="support@example.com", password="x"))
    assert client.get(reverse("admin:jobs_job_changelist"), {"q": "x"}).status_code == 200
    assert client.get(reverse("admin:jobs_job_changelist") + "?q=a%00b").status_code == 400


def test_a_nul_in_a_cookie_is_400(client, db):
    # Django's cookie parser reads a quoted value's \000 as a NUL; this session key then reached the database.
    response = client.get("/", HTTP_COOKIE='sessionid="abcdefgh\\000ijklmnop"')
    assert response.status_code == 400


def test_a_nul_in_a_form_field_is_400_and_nothing_is_saved(owner_client, owner):
    job = finished_job(owner)
    rename = reverse("jobs:rename", args=[job.id])
    as_a_browser_sends_it = owner_client.post(
        rename, "title=Lesson%001", content_type="application/x-www-form-urlencoded"
    )
    assert as_a_browser_sends_it.status_code == 400
    assert owner_client.post(rename, {"title": "Lesson\x001"}).status_code == 400  # multipart, as a script may
    job.refresh_from_db()
    assert job.title == ""


@pytest.mark.parametrize("value", ["Lesson\u00001", "Lesson \ud800"])
def test_a_nul_or_a_lone_surrogate_in_json_is_400(api, value):
    body = json.dumps({"url": f"https://hooks.example/{value}"})
    assert "\\u0000" in body or "\\ud800" in body
    response = api.generic("PUT", "/api/v1/webhook/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_character"
    assert response.json()["error"]["request_id"] == response["Request-Id"]
    assert not WebhookEndpoint.objects.exists()


def test_what_only_looks_like_a_nul_is_not_one(api):
    for title in ("C:\\u0000 is a path", "Smile \U0001f600"):  # an escaped backslash; a surrogate pair
        body = json.dumps({"title": title})
        assert "\\u0000" in body or "\\ud83d\\ude00" in body
        response = api.generic("POST", "/api/v1/jobs/", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "missing_parameter", title


@pytest.mark.parametrize(
    "path", ["/api/v1/jobs/", "/api/v1/webhook/", "/billing/stripe/webhook/", "/api/v1/preflight/"]
)
def test_json_nested_five_thousand_deep_is_refused_before_it_is_parsed(api, path):
    body = "[" * 5000 + "]" * 5000  # about 10 KB (the probe's 35 KB held objects)
    method = "PUT" if path.endswith("webhook/") and path.startswith("/api/") else "POST"
    response = api.generic(method, path, body, content_type="application/json")
    assert response.status_code == 400, (path, response.status_code)
    assert response.json()["error"]["code"] == "invalid_json"
    assert "64" in response.json()["error"]["message"]


def test_json_as_deep_as_the_limit_is_read(api):
    nested = "x"
    for _ in range(63):
        nested = {"a": nested}
    response = api.generic(
        "PUT",
        "/api/v1/webhook/",
        json.dumps({"url": "https://[::1]/", "deep": nested}),
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] != "invalid_json"
    assert not Job.objects.exists()
