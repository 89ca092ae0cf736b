"""Who may call the API: keys (made, revoked, expired), the plan's API access, and the portal's own session."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import BillingAccount
from portal.api import keys
from portal.api.models import ApiKey
from tests.api.conftest import assert_error, key_client
from tests.factories import make_user
from tests.jobs_helpers import give_plan


def test_a_key_acts_for_its_owner(api, marketer):
    response = api.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["email"] == marketer.email
    assert response.json()["api_key"]["name"] == "tests"
    assert ApiKey.objects.get(owner=marketer).last_used_at is not None


def test_no_key_is_401_with_a_bearer_challenge(db):
    response = APIClient().get("/api/v1/me/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_made_up_or_malformed_key_is_401(db):
    assert_error(key_client("sonic_" + "x" * 43).get("/api/v1/me/"), 401, "invalid_api_key")
    assert_error(key_client("not-even-our-format").get("/api/v1/me/"), 401, "invalid_api_key")
    spaced = APIClient()
    spaced.credentials(HTTP_AUTHORIZATION="Bearer two words")
    assert_error(spaced.get("/api/v1/me/"), 401, "invalid_api_key")


def test_a_revoked_key_is_401(marketer):
    api_key, key = keys.create(marketer, "old laptop")
    keys.revoke(api_key)
    error = assert_error(key_client(key).get("/api/v1/me/"), 401, "api_key_revoked")
    assert api_key.prefix in error["message"]


def test_an_expired_key_is_401_and_one_not_yet_expired_works(marketer):
    _, expired = keys.create(marketer, "trial", expires_at=timezone.now() - timedelta(seconds=1))
    _, current = keys.create(marketer, "quarter", expires_at=timezone.now() + timedelta(days=90))
    assert_error(key_client(expired).get("/api/v1/me/"), 401, "api_key_expired")
    assert key_client(current).get("/api/v1/me/").status_code == 200


def test_a_key_of_a_deactivated_account_is_401(api, marketer):
    marketer.is_active = False
    marketer.save()
    assert_error(api.get("/api/v1/me/"), 401, "invalid_api_key")


def test_a_plan_without_the_api_is_403_with_the_upgrade_link(db):
    teacher = make_user("teacher@example.com")
    give_plan(teacher, "teacher")
    _, key = keys.create(teacher, "lesson sync")
    error = assert_error(key_client(key).get("/api/v1/jobs/"), 403, "api_not_in_plan")
    assert error["upgrade_url"].endswith("/billing/")


def test_losing_the_paid_plan_turns_keys_off_and_regaining_it_turns_them_on(api, marketer):
    assert api.get("/api/v1/me/").status_code == 200
    BillingAccount.objects.filter(user=marketer).update(plan_override="")  # back to Free
    assert_error(api.get("/api/v1/me/"), 403, "api_not_in_plan")
    assert ApiKey.objects.filter(owner=marketer, revoked_at__isnull=True).exists()  # kept, only off
    give_plan(marketer, "business")
    assert api.get("/api/v1/me/").status_code == 200


def test_the_portals_own_pages_call_the_api_with_their_session_on_any_plan(client, db):
    free = make_user("free@example.com")
    client.force_login(free)
    response = client.get("/api/v1/usage/")
    assert response.status_code == 200
    assert response.json()["plan"]["code"] == "free"


def test_a_session_post_needs_the_csrf_token(db):
    free = make_user("free@example.com")
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(free)
    response = browser.put("/api/v1/webhook/", {"url": "https://127.0.0.1/x"}, format="json")
    assert_error(response, 403, "forbidden")
    assert "CSRF" in response.json()["error"]["message"]


def test_unknown_api_urls_answer_in_the_api_shape(api):
    assert_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(APIClient().get("/api/v1/"), 404, "not_found")


def test_a_wrong_method_is_405_in_the_api_shape(api):
    assert_error(api.patch("/api/v1/me/", {}, format="json"), 405, "method_not_allowed")


def test_every_response_names_its_request_pages_included(client, api):
    first, second = api.get("/api/v1/me/")["Request-Id"], api.get("/api/v1/me/")["Request-Id"]
    assert first.startswith("req_") and first != second
    assert client.get("/accounts/login/")["Request-Id"].startswith("req_")
