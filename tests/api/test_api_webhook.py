"""/api/v1/webhook/: set, show, rotate and remove the user's webhook, and read its delivery log.

No test sends traffic or DNS queries off this machine: names are answered by a fake `webhooks.lookup`, and the
only addresses ever used are IP literals."""

import socket

import pytest

from portal.jobs import webhooks
from portal.jobs.models import WebhookDelivery, WebhookEndpoint
from tests.api.conftest import assert_error

URL = "/api/v1/webhook/"
ROTATE_URL = "/api/v1/webhook/rotate-secret/"
DELIVERIES_URL = "/api/v1/webhook/deliveries/"
# Names the fake resolver knows (documentation addresses: public, and never contacted by these tests).
PUBLIC_NAMES = {
    "hooks.example.com": "93.184.216.34",
    "crm.example.org": "93.184.216.35",
    "sneaky.example.com": "127.0.0.1",
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Answers for PUBLIC_NAMES only; anything else fails as an unknown name would, without asking anyone."""
    asked = []

    def lookup(host, port, *args, **kwargs):
        asked.append(host)
        address = PUBLIC_NAMES.get(host, host)
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(webhooks, "lookup", lookup)
    return asked


@pytest.fixture(autouse=True)
def _private_urls_refused(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False


def put(client, url: str):
    return client.put(URL, {"url": url}, format="json")


# --- Setting and showing ---------------------------------------------------------------------------------------
def test_no_webhook_shows_url_null(api):
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == {"url": None, "created_at": None}


def test_setting_a_webhook_returns_its_secret_once(api, marketer):
    response = put(api, "https://hooks.example.com/sonic")
    assert response.status_code == 200, response.content
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(owner=marketer)
    assert body["url"] == endpoint.url == "https://hooks.example.com/sonic"
    assert body["created_at"]
    assert body["secret"].startswith("whsec_") and body["secret"] == endpoint.secret

    later = api.get(URL)
    assert later.status_code == 200
    assert later.json()["url"] == "https://hooks.example.com/sonic"
    assert "secret" not in later.json(), "the signing secret must be shown only when it is new"
    assert endpoint.secret not in later.content.decode()


def test_changing_the_url_keeps_the_secret_and_does_not_show_it(api, marketer):
    secret = put(api, "https://hooks.example.com/sonic").json()["secret"]
    response = put(api, "https://crm.example.org/in")
    assert response.status_code == 200
    assert response.json()["url"] == "https://crm.example.org/in"
    endpoint = WebhookEndpoint.objects.get(owner=marketer)
    assert (endpoint.url, endpoint.secret) == ("https://crm.example.org/in", secret)
    assert "secret" not in response.json(), "changing the URL keeps the secret, so it must not be shown again"


def test_putting_the_same_url_again_does_not_show_the_secret(api, marketer):
    secret = put(api, "https://hooks.example.com/sonic").json()["secret"]
    again = put(api, "https://hooks.example.com/sonic")
    assert again.status_code == 200
    assert "secret" not in again.json(), "the signing secret must be shown only when it is new"
    assert WebhookEndpoint.objects.get(owner=marketer).secret == secret


def test_each_user_has_their_own_webhook(api, rival_api, marketer, rival):
    put(api, "https://hooks.example.com/sonic")
    assert rival_api.get(URL).json()["url"] is None
    put(rival_api, "https://crm.example.org/in")
    assert WebhookEndpoint.objects.get(owner=marketer).url == "https://hooks.example.com/sonic"
    assert WebhookEndpoint.objects.get(owner=rival).url == "https://crm.example.org/in"


# --- Rotating --------------------------------------------------------------------------------------------------
def test_rotating_returns_a_new_secret_and_stores_it(api, marketer):
    old = put(api, "https://hooks.example.com/sonic").json()["secret"]
    response = api.post(ROTATE_URL)
    assert response.status_code == 200, response.content
    new = response.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert response.json()["url"] == "https://hooks.example.com/sonic"
    assert WebhookEndpoint.objects.get(owner=marketer).secret == new
    assert "secret" not in api.get(URL).json(), "the rotated secret must be shown only in the rotate response"


def test_rotating_without_a_webhook_is_404_no_webhook(api, marketer):
    assert_error(api.post(ROTATE_URL), 404, "no_webhook")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_rotating_leaves_other_users_secrets_alone(api, rival_api, rival):
    put(api, "https://hooks.example.com/sonic")
    theirs = put(rival_api, "https://crm.example.org/in").json()["secret"]
    api.post(ROTATE_URL)
    assert WebhookEndpoint.objects.get(owner=rival).secret == theirs


# --- Removing --------------------------------------------------------------------------------------------------
def test_deleting_the_webhook_answers_204_and_it_is_gone(api, marketer):
    put(api, "https://hooks.example.com/sonic")
    response = api.delete(URL)
    assert response.status_code == 204 and not response.content
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()
    assert api.get(URL).json()["url"] is None
    assert_error(api.post(ROTATE_URL), 404, "no_webhook")


def test_pending_delivery_is_dropped_once_the_webhook_is_deleted(api, marketer):
    put(api, "https://hooks.example.com/sonic")
    pending = WebhookDelivery.objects.create(
        owner=marketer, event="job.succeeded", url="https://hooks.example.com/sonic", payload={"data": {}}
    )
    assert api.delete(URL).status_code == 204
    webhooks.deliver(pending.pk, final_attempt=False)  # the worker's next attempt: nowhere to send it
    (listed,) = api.get(DELIVERIES_URL).json()
    assert (listed["id"], listed["status"], listed["attempts"]) == (pending.id, "canceled", 0)
    assert listed["finished_at"] and "removed" in listed["last_error"]


def test_deleting_leaves_other_users_webhooks_alone(api, rival_api, rival):
    put(rival_api, "https://crm.example.org/in")
    assert api.delete(URL).status_code == 204
    assert WebhookEndpoint.objects.filter(owner=rival).exists()


def test_a_new_webhook_after_deleting_gets_a_new_secret(api):
    first = put(api, "https://hooks.example.com/sonic").json()["secret"]
    api.delete(URL)
    second = put(api, "https://hooks.example.com/sonic").json()["secret"]
    assert second.startswith("whsec_") and second != first


# --- Refused URLs ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/x", "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/latest"],
)
def test_private_address_is_refused_with_field_url(api, marketer, url):
    assert_error(put(api, url), 400, "private_webhook_url", field="url")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_name_that_resolves_to_a_private_address_is_refused(api, marketer, fake_dns):
    assert_error(put(api, "https://sneaky.example.com/hook"), 400, "private_webhook_url", field="url")
    assert fake_dns == ["sneaky.example.com"]
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_refused_url_leaves_the_existing_webhook_as_it_was(api, marketer):
    secret = put(api, "https://hooks.example.com/sonic").json()["secret"]
    assert_error(put(api, "http://127.0.0.1:9/x"), 400, "private_webhook_url", field="url")
    endpoint = WebhookEndpoint.objects.get(owner=marketer)
    assert (endpoint.url, endpoint.secret) == ("https://hooks.example.com/sonic", secret)


@pytest.mark.parametrize("url", ["not a url", "ftp://hooks.example.com/x", "https://", "http://[::1/x"])
def test_malformed_url_is_refused(api, marketer, url):
    assert_error(put(api, url), 400, "invalid_webhook_url", field="url")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_name_that_does_not_resolve_is_refused(api, marketer):
    assert_error(put(api, "https://nowhere.invalid/hook"), 400, "invalid_webhook_url", field="url")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_missing_url_is_refused_as_missing_parameter(api, marketer):
    assert_error(api.put(URL, {}, format="json"), 400, "missing_parameter", field="url")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


def test_unknown_field_is_refused_rather_than_ignored(api, marketer):
    response = api.put(URL, {"url": "https://hooks.example.com/sonic", "secret": "whsec_mine"}, format="json")
    assert_error(response, 400, "unknown_parameter", field="secret")
    assert not WebhookEndpoint.objects.filter(owner=marketer).exists()


# --- Delivery log ----------------------------------------------------------------------------------------------
def test_deliveries_list_only_the_users_own(api, marketer, rival):
    mine = WebhookDelivery.objects.create(
        owner=marketer,
        event="job.succeeded",
        url="https://hooks.example.com/sonic",
        payload={},
        status=WebhookDelivery.Status.DELIVERED,
        attempts=1,
        response_status=200,
    )
    WebhookDelivery.objects.create(owner=rival, event="job.failed", url="https://crm.example.org/in", payload={})
    response = api.get(DELIVERIES_URL)
    assert response.status_code == 200
    (delivery,) = response.json()
    assert delivery["id"] == mine.id
    assert (delivery["event"], delivery["url"], delivery["status"]) == (
        "job.succeeded",
        "https://hooks.example.com/sonic",
        "delivered",
    )
    assert (delivery["attempts"], delivery["response_status"]) == (1, 200)


def test_deliveries_list_is_empty_for_a_user_without_any(rival_api, marketer):
    WebhookDelivery.objects.create(owner=marketer, event="job.succeeded", url="https://hooks.example.com/s", payload={})
    response = rival_api.get(DELIVERIES_URL)
    assert response.status_code == 200 and response.json() == []


def test_deliveries_list_newest_first(api, marketer):
    older = WebhookDelivery.objects.create(
        owner=marketer, event="job.failed", url="https://hooks.example.com/s", payload={}
    )
    newer = WebhookDelivery.objects.create(
        owner=marketer, event="job.succeeded", url="https://hooks.example.com/s", payload={}
    )
    assert [item["id"] for item in api.get(DELIVERIES_URL).json()] == [newer.id, older.id]
