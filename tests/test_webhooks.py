import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
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
    [("http://127.0.0.1:8000/hook", "private_webhook_url"), ("http://10.1.2.3/hook", "private_webhook_url"),
     ("http://[::1]/hook", "private_webhook_url"), ("ftp://example.com/x", "invalid_webhook_url"),
     ("not a url", "invalid_webhook_url")],
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
        webhooks.job_finished(job.id)
    delivery = WebhookDelivery.objects.get(job=job)
    webhooks.deliver(delivery.pk, final_attempt=False)

    (headers, body), = receiver.requests
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
        webhooks.job_finished(job.id)
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
    webhooks.job_finished(finished_job(owner).id)
    assert not WebhookDelivery.objects.exists()


def test_delivery_log_is_per_user(owner_client, outsider, owner):
    WebhookDelivery.objects.create(owner=outsider, event="job.succeeded", url="https://x.example/h", payload={})
    assert 'class="delivery"' not in owner_client.get(URL).content.decode()
