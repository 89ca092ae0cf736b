"""The account page where users make and revoke API keys, and the create_api_key command."""

import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.api import keys
from portal.api.models import ApiKey
from tests.api.conftest import assert_error, key_client
from tests.factories import make_user
from tests.jobs_helpers import give_plan

URL = "/accounts/api-keys/"
ME = "/api/v1/me/"
NEW_KEY = re.compile(r'data-testid="new-key">([^<]+)</code>')


def revoke_url(api_key) -> str:
    return f"/accounts/api-keys/{api_key.id}/revoke/"


@pytest.fixture
def page(client, marketer):
    client.force_login(marketer)
    return client


def make_key(client, name="CRM export", expires=""):
    """Submits the form; returns the response and the key it shows (None when it shows none)."""
    response = client.post(URL, {"name": name, "expires_in_days": expires})
    found = NEW_KEY.search(response.content.decode())
    return response, found.group(1) if found else None


def assert_key_works(key: str, email: str) -> dict:
    response = key_client(key).get(ME)
    assert response.status_code == 200, response.content
    assert response.json()["email"] == email
    return response.json()


def database_holds(text: str) -> bool:
    """Whether any column of any API key row holds text (the whole table, read as PostgreSQL prints it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {ApiKey._meta.db_table} AS t")
        return any(text in row for (row,) in cursor.fetchall())


# --- Making a key ------------------------------------------------------------------------------------------------
def test_making_a_key_shows_it_once_and_stores_only_its_sha256(page, marketer):
    response, key = make_key(page, "CRM export")
    assert response.status_code == 200
    assert key and key.startswith("sonic_")
    api_key = ApiKey.objects.get(owner=marketer)
    assert api_key.name == "CRM export"
    assert api_key.hashed_key == hashlib.sha256(key.encode()).hexdigest() != key
    assert api_key.prefix == key[: len(api_key.prefix)] and len(api_key.prefix) < len(key)
    assert database_holds(api_key.hashed_key) and not database_holds(key), "the key itself must never be stored"
    assert key not in page.get(URL).content.decode(), "the key is shown only on the page that made it"


def test_new_key_works_on_the_api(page, marketer):
    _, key = make_key(page, "CRM export")
    me = assert_key_works(key, "marketer@example.com")
    assert me["plan"] == "pro"
    assert me["api_key"]["name"] == "CRM export" and key.startswith(me["api_key"]["prefix"])
    assert me["api_key"]["expires_at"] is None


def test_each_key_made_is_different(page, marketer):
    _, first = make_key(page, "one")
    _, second = make_key(page, "two")
    assert first != second
    assert ApiKey.objects.filter(owner=marketer).count() == 2


def test_key_with_an_expiry_expires_then(page, marketer):
    _, key = make_key(page, "staging", expires="30")
    api_key = ApiKey.objects.get(owner=marketer)
    assert abs(api_key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert assert_key_works(key, "marketer@example.com")["api_key"]["expires_at"]


def test_key_without_a_name_is_refused(page, marketer):
    response, key = make_key(page, "")
    assert response.status_code == 400 and key is None
    assert not ApiKey.objects.exists()


def test_list_shows_name_and_prefix_but_not_the_key(page, marketer):
    _, key = make_key(page, "CRM export")
    api_key = ApiKey.objects.get(owner=marketer)
    listing = page.get(URL).content.decode()
    row = re.search(r'<tr class="api-key">(.*?)</tr>', listing, re.S).group(1)
    assert "CRM export" in row and f"<code>{api_key.prefix}…</code>" in row and "active" in row
    assert key not in listing and api_key.hashed_key not in listing


def test_list_does_not_show_other_users_keys(page, rival):
    keys.create(rival, "rival's secret project")
    listing = page.get(URL).content.decode()
    assert "rival&#x27;s secret project" not in listing and "rival's secret project" not in listing
    assert "No keys yet." in listing


# --- Revoking ---------------------------------------------------------------------------------------------------
def test_revoked_key_answers_401_api_key_revoked(page, marketer):
    _, key = make_key(page, "CRM export")
    api_key = ApiKey.objects.get(owner=marketer)
    response = page.post(revoke_url(api_key))
    assert response.status_code == 302 and response.url == reverse("api_keys")
    assert_error(key_client(key).get(ME), 401, "api_key_revoked")
    listing = page.get(URL).content.decode()
    assert '<td class="state">revoked</td>' in listing
    assert f'action="{revoke_url(api_key)}"' not in listing, "a revoked key has no revoke button"


def test_revoking_one_key_leaves_the_others_working(page, marketer):
    _, revoked = make_key(page, "old")
    _, kept = make_key(page, "new")
    page.post(revoke_url(ApiKey.objects.get(owner=marketer, name="old")))
    assert_error(key_client(revoked).get(ME), 401, "api_key_revoked")
    assert_key_works(kept, "marketer@example.com")


def test_rival_cannot_revoke_someone_elses_key(client, marketer, rival):
    api_key, key = keys.create(marketer, "CRM export")
    client.force_login(rival)
    assert client.post(revoke_url(api_key)).status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert_key_works(key, "marketer@example.com")


def test_revoking_needs_a_post(page, marketer):
    api_key, key = keys.create(marketer, "CRM export")
    assert page.get(revoke_url(api_key)).status_code == 405
    assert_key_works(key, "marketer@example.com")


# --- Who may use the page ---------------------------------------------------------------------------------------
def test_free_plan_user_sees_no_form_and_cannot_make_a_key(client, db):
    user = make_user("free@example.com")
    give_plan(user, "free")
    client.force_login(user)
    page = client.get(URL).content.decode()
    assert 'class="new-key-form"' not in page
    assert 'data-code="api_not_in_plan"' in page
    response, key = make_key(client, "sneaky")
    assert key is None and 'data-testid="new-key"' not in response.content.decode()
    assert not ApiKey.objects.filter(owner=user).exists()


def test_anonymous_user_is_sent_to_login(client, marketer):
    api_key, key = keys.create(marketer, "CRM export")
    response = client.get(URL)
    assert response.status_code == 302 and reverse("account_login") in response.url
    posted = client.post(URL, {"name": "anon", "expires_in_days": ""})
    assert posted.status_code == 302 and reverse("account_login") in posted.url
    revoked = client.post(revoke_url(api_key))
    assert revoked.status_code == 302 and reverse("account_login") in revoked.url
    assert ApiKey.objects.count() == 1
    assert_key_works(key, "marketer@example.com")


# --- The create_api_key command -------------------------------------------------------------------------------
def run_command(*args) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_command_prints_a_key_that_works(marketer):
    key = run_command("marketer@example.com", "--name", "ci")
    assert key.startswith("sonic_")
    me = assert_key_works(key, "marketer@example.com")
    assert me["api_key"]["name"] == "ci" and me["api_key"]["expires_at"] is None
    assert ApiKey.objects.get(owner=marketer).hashed_key == hashlib.sha256(key.encode()).hexdigest()
    assert not database_holds(key)


def test_command_finds_the_user_whatever_the_case_of_the_email(marketer):
    key = run_command("Marketer@Example.COM", "--name", "ci")
    assert_key_works(key, "marketer@example.com")


def test_command_expires_days_sets_the_expiry(marketer):
    run_command("marketer@example.com", "--name", "ci", "--expires-days", "30")
    api_key = ApiKey.objects.get(owner=marketer)
    assert abs(api_key.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_command_refuses_an_unknown_email(db):
    with pytest.raises(CommandError, match="nobody@example.com"):
        run_command("nobody@example.com", "--name", "ci")
    assert not ApiKey.objects.exists()


def test_command_refuses_a_non_positive_expiry(marketer):
    with pytest.raises(CommandError):
        run_command("marketer@example.com", "--name", "ci", "--expires-days", "0")
    assert not ApiKey.objects.exists()


def test_command_key_for_a_free_user_answers_403_api_not_in_plan(db):
    user = make_user("free@example.com")
    give_plan(user, "free")
    err = StringIO()
    out = StringIO()
    call_command("create_api_key", "free@example.com", "--name", "ci", stdout=out, stderr=err)
    assert "api_not_in_plan" in err.getvalue()
    assert_error(key_client(out.getvalue().strip()).get(ME), 403, "api_not_in_plan")
