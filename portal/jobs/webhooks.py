"""Job events POSTed to the user's URL, signed with HMAC-SHA256 over "<timestamp>.<body>" (header Sonic-Signature)."""

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.jobs.errors import JobRejected
from portal.jobs.models import Job, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Sonic-Signature"
TIMEOUT_SECONDS = 10


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def check_url(url: str) -> None:
    """Refuse URLs that would make our servers call into private networks (unless tests allow it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise JobRejected("invalid_webhook_url", "The webhook URL must start with https:// (or http://).",
                          field="url")
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except socket.gaierror:
        raise JobRejected("invalid_webhook_url", f"{parts.hostname} does not resolve.", field="url") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise JobRejected(
                "private_webhook_url", f"{parts.hostname} points to a private or local address ({ip}).", field="url"
            )


def set_endpoint(user, url: str) -> WebhookEndpoint:
    check_url(url)
    endpoint, _ = WebhookEndpoint.objects.update_or_create(owner=user, defaults={"url": url, "secret": new_secret()})
    return endpoint


def event_payload(job: Job) -> dict:
    from portal.jobs.services import download_link

    data = {
        "id": str(job.id),
        "status": job.status,
        "audio_duration_seconds": job.audio_duration_seconds,
        "quota_seconds": job.quota_seconds,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.status == Job.Status.SUCCEEDED:
        data["download_url"] = download_link(job, job.output.name)
    if job.error_code:
        data["error"] = {"code": job.error_code, "message": job.error_message}
    return {"type": f"job.{job.status}", "created": int(time.time()), "data": data}


def job_finished(job_id) -> None:
    """Record a delivery for the job's owner, if they set a URL, and hand it to a worker."""
    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    endpoint = WebhookEndpoint.objects.filter(owner_id=job.owner_id).first() if job else None
    if endpoint is None:
        return
    payload = event_payload(job)
    delivery = WebhookDelivery.objects.create(
        owner_id=job.owner_id, job=job, event=payload["type"], url=endpoint.url, payload=payload
    )
    from portal.jobs import tasks

    transaction.on_commit(lambda: tasks.deliver_webhook.send(delivery.pk))


def deliver(delivery_id: int, final_attempt: bool) -> None:
    """One attempt; raises on failure so the actor retries with backoff, and records the outcome either way."""
    delivery = WebhookDelivery.objects.select_related("owner__webhook").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return
    endpoint = getattr(delivery.owner, "webhook", None)
    secret = endpoint.secret if endpoint else ""
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, int(time.time()), body)}
    fields = {"attempts": delivery.attempts + 1}
    try:
        check_url(delivery.url)  # again at send time: DNS may have changed since the URL was saved
        response = requests.post(delivery.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS,
                                 allow_redirects=False)
        fields["response_status"] = response.status_code
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"HTTP {response.status_code}")
    except (requests.RequestException, DeliveryFailed, JobRejected) as error:
        fields["last_error"] = str(error)[:500]
        if final_attempt:
            fields.update(status=WebhookDelivery.Status.FAILED, finished_at=timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if not final_attempt:
            raise DeliveryFailed(fields["last_error"]) from error
        return
    fields.update(status=WebhookDelivery.Status.DELIVERED, finished_at=timezone.now(), last_error="")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


class DeliveryFailed(Exception):
    pass
