import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from portal.jobs import webhooks
from portal.jobs.models import Job, WebhookDelivery, WebhookEndpoint
from tests.jobs_helpers import finished_job

URL = reverse("jobs:webhook")


class Receiver:
    """A local HTTP endpoint that records what it is sent and answers with `status`."""

    def __init__(self, status=200):
        self.status, self.requests = status, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.server.shutdown()


def verify(secret, header, body) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def test_secret_is_shown_once(owner_client, owner):
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True):
        page = owner_client.post(URL, {"action": "save", "url": "http://127.0.0.1:9/hook"}).content.decode()
    secret = owner.webhook.secret
    assert secret.startswith("whsec_") and secret in page
    assert secret not in owner_client.get(URL).content.decode()


@pytest.mark.parametrize(
    "url, code",
    [
        ("http://127.0.0.1:8000/hook", "private_webhook_url"),
        ("http://10.1.2.3/hook", "private_webhook_url"),
        ("http://[::1]/hook", "private_webhook_url"),
        ("ftp://example.com/x", "invalid_webhook_url"),
        ("not a url", "invalid_webhook_url"),
    ],
)
def test_private_and_malformed_urls_are_refused(owner_client, owner, url, code):
    response = owner_client.post(URL, {"action": "save", "url": url})
    assert response.status_code == 400 and f'data-code="{code}"'.encode() in response.content
    assert not WebhookEndpoint.objects.filter(owner=owner).exists()


def test_remove(owner_client, owner):
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True):
        owner_client.post(URL, {"action": "save", "url": "http://127.0.0.1:9/hook"})
    owner_client.post(URL, {"action": "remove"})
    assert not WebhookEndpoint.objects.filter(owner=owner).exists()


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_signed_event_is_delivered_and_logged(owner, receiver, django_capture_on_commit_callbacks):
    endpoint = webhooks.set_endpoint(owner, receiver.url)
    job = finished_job(owner)
    with django_capture_on_commit_callbacks(execute=False):
        webhooks.on_job_finished(Job, job_id=job.id)
    delivery = WebhookDelivery.objects.get(job=job)
    webhooks.deliver(delivery.pk, final_attempt=False)

    ((headers, body),) = receiver.requests
    assert verify(endpoint.secret, headers["Sonic-Signature"], body)
    event = json.loads(body)
    assert event["type"] == "job.succeeded" and event["data"]["id"] == str(job.id)
    assert "/jobs/download/" in event["data"]["download_url"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_failed_delivery_is_retried_then_given_up(owner, receiver, django_capture_on_commit_callbacks):
    receiver.status = 500
    webhooks.set_endpoint(owner, receiver.url)
    job = finished_job(owner, status=Job.Status.FAILED, video=None, error_code="no_face", error_message="No face.")
    with django_capture_on_commit_callbacks(execute=False):
        webhooks.on_job_finished(Job, job_id=job.id)
    delivery = WebhookDelivery.objects.get(job=job)
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(delivery.pk, final_attempt=False)  # the actor's retry (with backoff) follows
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    webhooks.deliver(delivery.pk, final_attempt=True)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert json.loads(receiver.requests[0][1])["data"]["error"] == {"code": "no_face", "message": "No face."}


def test_no_url_no_delivery(owner):
    webhooks.on_job_finished(Job, job_id=finished_job(owner).id)
    assert not WebhookDelivery.objects.exists()


def test_delivery_log_is_per_user(owner_client, outsider, owner):
    WebhookDelivery.objects.create(owner=outsider, event="job.succeeded", url="https://x.example/h", payload={})
    assert 'class="delivery"' not in owner_client.get(URL).content.decode()


def _queued_delivery(owner, django_capture_on_commit_callbacks, **job_fields) -> WebhookDelivery:
    job = finished_job(owner, **job_fields)
    with django_capture_on_commit_callbacks(execute=False):  # its message is not sent: deliver() is called here
        webhooks.on_job_finished(Job, job_id=job.id)
    return WebhookDelivery.objects.get(job=job)


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_each_attempt_carries_a_download_link_made_when_it_is_sent(
    owner, client, receiver, django_capture_on_commit_callbacks
):
    webhooks.set_endpoint(owner, receiver.url)
    delivery = _queued_delivery(owner, django_capture_on_commit_callbacks)
    # The event waited (retries back off for up to an hour): the link made when it was queued has long expired.
    stale = {**delivery.payload, "data": {**delivery.payload["data"], "download_url": "https://x.invalid/expired"}}
    WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=stale)
    webhooks.deliver(delivery.pk, final_attempt=False)
    link = json.loads(receiver.requests[0][1])["data"]["download_url"]
    assert link != "https://x.invalid/expired"
    assert client.get(link.removeprefix(settings.SITE_URL)).status_code == 200


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_pending_events_follow_a_changed_webhook_and_stop_with_a_removed_one(owner, django_capture_on_commit_callbacks):
    old, new = Receiver(), Receiver()
    try:
        webhooks.set_endpoint(owner, old.url)
        first = _queued_delivery(owner, django_capture_on_commit_callbacks)
        endpoint = webhooks.set_endpoint(owner, new.url)  # changed before the event went out
        webhooks.deliver(first.pk, final_attempt=False)
        assert old.requests == [] and len(new.requests) == 1
        assert verify(endpoint.secret, new.requests[0][0]["Sonic-Signature"], new.requests[0][1])
        first.refresh_from_db()
        assert (first.status, first.url) == ("delivered", new.url)

        second = _queued_delivery(owner, django_capture_on_commit_callbacks)
        WebhookEndpoint.objects.filter(owner=owner).delete()  # removed before the event went out
        webhooks.deliver(second.pk, final_attempt=False)
        assert len(new.requests) == 1 and old.requests == []
        second.refresh_from_db()
        assert second.status == "canceled" and "removed" in second.last_error
    finally:
        old.server.shutdown(), new.server.shutdown()


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_a_delivery_whose_message_was_lost_is_sent_by_the_maintenance_loop(
    owner, receiver, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    import dramatiq
    from django.utils import timezone

    from portal.jobs import reconcile

    webhooks.set_endpoint(owner, receiver.url)
    lost = _queued_delivery(owner, django_capture_on_commit_callbacks)  # its message never reached Redis
    exhausted = _queued_delivery(owner, django_capture_on_commit_callbacks)
    WebhookDelivery.objects.filter(pk=exhausted.pk).update(attempts=9)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert reconcile.run()["webhooks_resent"] == [lost.pk]
    broker = dramatiq.get_broker()
    assert broker.client.hlen(f"{broker.namespace}:webhooks.msgs") == 1
    exhausted.refresh_from_db()
    assert exhausted.status == "failed"
    assert reconcile.run()["webhooks_resent"] == [], "a delivery whose message is queued is left alone"


def _resolving(monkeypatch, name: str, addresses: list[str]) -> list:
    """DNS answers for `name` through webhooks' resolver seam (DNS cannot be run here); returns the lookups made."""
    import socket

    real, lookups = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [(family[6 if ":" in a else 4], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(webhooks, "lookup", getaddrinfo)
    return lookups


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_a_delivery_connects_to_the_address_it_checked_and_names_the_host(
    owner, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    lookups = _resolving(monkeypatch, "hooks.example.com", ["127.0.0.1"])
    url = receiver.url.replace("127.0.0.1", "hooks.example.com")
    WebhookEndpoint.objects.create(owner=owner, url=url, secret="whsec_x")
    delivery = _queued_delivery(owner, django_capture_on_commit_callbacks)
    lookups.clear()
    webhooks.deliver(delivery.pk, final_attempt=False)
    ((headers, _),) = receiver.requests
    assert headers["Host"] == f"hooks.example.com:{receiver.server.server_port}"
    assert len(lookups) == 1, "resolved once: the address checked is the address connected to"


def test_a_name_with_any_private_address_is_refused_before_anything_is_sent(
    owner, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    _resolving(monkeypatch, "rebind.example.com", ["93.184.216.34", "127.0.0.1"])
    url = receiver.url.replace("127.0.0.1", "rebind.example.com")
    WebhookEndpoint.objects.create(owner=owner, url=url, secret="whsec_x")  # saved while it looked public
    delivery = _queued_delivery(owner, django_capture_on_commit_callbacks)
    with pytest.raises(webhooks.DeliveryFailed):
        webhooks.deliver(delivery.pk, final_attempt=False)
    delivery.refresh_from_db()
    assert receiver.requests == [] and "private or local address (127.0.0.1)" in delivery.last_error


@pytest.mark.parametrize(
    "url, code",
    [
        ("http://[::127.0.0.1]/", "private_webhook_url"),
        ("http://[64:ff9b::7f00:1]/", "private_webhook_url"),
        ("http://[::ffff:10.0.0.1]/", "private_webhook_url"),
        ("http://[2002:7f00:1::1]/", "private_webhook_url"),
        ("http://[64:ff9b::808:808]/", "private_webhook_url"),
        ("http://100.64.0.1/", "private_webhook_url"),
        ("http://example.com:99999/", "invalid_webhook_url"),
        ("http://example.com:abc/", "invalid_webhook_url"),
        ("http://[::1/", "invalid_webhook_url"),
    ],
)
def test_disguised_local_addresses_and_malformed_urls_are_refused(owner_client, owner, url, code):
    response = owner_client.post(URL, {"action": "save", "url": url})
    assert response.status_code == 400 and f'data-code="{code}"'.encode() in response.content
