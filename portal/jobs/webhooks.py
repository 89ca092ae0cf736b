"""Job events POSTed to the user's URL, signed with HMAC-SHA256 over "<timestamp>.<body>" (header Sonic-Signature)."""

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import time
from urllib.parse import urlsplit

import certifi
import dramatiq
import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal import queue, storage
from portal.jobs import queue_messages
from portal.jobs.errors import JobRejected
from portal.jobs.models import Job, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Sonic-Signature"
TIMEOUT_SECONDS = 10
# The one name resolver webhook URLs go through (tests point it at loopback, so no query leaves the machine).
lookup = socket.getaddrinfo


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# Webhooks go to global unicast addresses only: public IPv4, and IPv6 inside 2000::/3 (which leaves out loopback,
# ULA, link-local, multicast, and every ::/8 form: IPv4-mapped, -translated and -compatible). An IPv6 address that
# carries an IPv4 one (6to4, Teredo, NAT64, ISATAP, ...) reaches that IPv4 address through a gateway or translator,
# so the IPv4 address inside must be public too.
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_CARRY_LAST_32_BITS = [
    ipaddress.ip_network(prefix)
    for prefix in (
        "::ffff:0:0/96",  # IPv4-mapped
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 2765)
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64 local-use prefix (RFC 8215), in its usual /96 layout
    )
]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address that some translator or tunnel would take this IPv6 address to mean."""
    last_32_bits = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found = [last_32_bits] if any(ip in network for network in _CARRY_LAST_32_BITS) else []
    if ip.sixtofour:  # 2002::/16
        found.append(ip.sixtofour)
    if ip.teredo:  # 2001::/32: the server's address and the client's
        found.extend(ip.teredo)
    if (int(ip) >> 32) & 0xFDFFFFFF == 0x00005EFE:  # ISATAP interface identifier (RFC 5214)
        found.append(last_32_bits)
    return found


def _ipv4_public(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast


def inward_address(ip) -> str | None:
    """Why a webhook may not connect to `ip` (the address, or the IPv4 address inside it), None when it may."""
    if ip.version == 4:
        return None if _ipv4_public(ip) else str(ip)
    for inner in embedded_ipv4(ip):
        if not _ipv4_public(inner):
            return f"{inner} inside {ip}"
    if ip not in _GLOBAL_UNICAST_V6 or not ip.is_global or ip.is_multicast:
        return str(ip)
    return None


# Characters that parsers disagree about (a backslash is a path separator to browsers and WHATWG, part of the user
# name to urlsplit), and credentials in the URL: a URL with any of them is refused rather than read one way.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


def _parts(url: str):
    """The URL's scheme, host and port, read once and by one parser (the same reading is checked and used)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise JobRejected(
            "invalid_webhook_url", gettext("The webhook URL must start with https:// (or http://)."), field="url"
        )
    if _AMBIGUOUS.search(url) or "@" in parts.netloc or port == 0:
        raise JobRejected(
            "invalid_webhook_url",
            gettext("The webhook URL may not contain spaces, backslashes, a user name or password, or port 0."),
            field="url",
        )
    return parts, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str) -> str:
    """The one address a delivery connects to; every address the name has must be public (unless tests allow
    private ones). Resolved once per attempt, so a name that changes its answer cannot slip past the check."""
    parts, port = _parts(url)
    try:
        infos = lookup(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise JobRejected(
            "invalid_webhook_url", gettext("%(host)s does not resolve.") % {"host": parts.hostname}, field="url"
        ) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        for ip in addresses:
            if inward := inward_address(ip):
                raise JobRejected(
                    "private_webhook_url",
                    gettext("%(host)s points to a private or local address (%(address)s).")
                    % {"host": parts.hostname, "address": inward},
                    field="url",
                )
    return str(addresses[0])


def check_url(url: str) -> None:
    """Refuse URLs that would make our servers call into private networks (unless tests allow it)."""
    resolve(url)


def remove_endpoint(user) -> None:
    """No more events for this user; deliveries still waiting go with the endpoint."""
    WebhookEndpoint.objects.filter(owner=user).delete()


def set_endpoint(user, url: str) -> WebhookEndpoint:
    check_url(url)
    endpoint, _ = WebhookEndpoint.objects.update_or_create(owner=user, defaults={"url": url, "secret": new_secret()})
    return endpoint


def save_url(user, url: str) -> tuple[WebhookEndpoint, bool]:
    """Point the user's webhook at url, keeping its secret; a new webhook gets a new secret (created is True)."""
    check_url(url)
    endpoint, created = WebhookEndpoint.objects.get_or_create(owner=user, defaults={"url": url, "secret": new_secret()})
    if not created and endpoint.url != url:
        endpoint.url = url
        endpoint.save(update_fields=["url"])
    return endpoint, created


def rotate_secret(user) -> WebhookEndpoint | None:
    """A new signing secret for the user's webhook (None when there is none); the old one stops at once."""
    endpoint = WebhookEndpoint.objects.filter(owner=user).first()
    if endpoint is not None:
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret"])
    return endpoint


def event_payload(job: Job) -> dict:
    data = {
        "id": str(job.id),
        "status": job.status,
        "audio_duration_seconds": job.audio_duration_seconds,
        "quota_seconds": job.quota_seconds,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.status == Job.Status.SUCCEEDED:
        data["download_url"] = storage.download_link(job, job.output.name)
    if job.error_code:
        data["error"] = {"code": job.error_code, "message": job.error_message}
    return {"type": f"job.{job.status}", "created": int(time.time()), "data": data}


def on_job_finished(sender, job_id, **kwargs) -> None:
    """Record a delivery for the job's owner, if they set a URL, and hand it to a worker (the job_finished signal,
    connected in JobsConfig.ready)."""
    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    endpoint = WebhookEndpoint.objects.filter(owner_id=job.owner_id).first() if job else None
    if endpoint is None:
        return
    payload = event_payload(job)
    delivery = WebhookDelivery.objects.create(
        owner_id=job.owner_id, job=job, event=payload["type"], url=endpoint.url, payload=payload
    )
    transaction.on_commit(lambda: queue_messages.send_webhook(delivery.pk))


@dramatiq.actor(
    actor_name=queue.DELIVER_WEBHOOK,
    queue_name=queue.WEBHOOK_QUEUE,
    max_retries=queue.WEBHOOK_RETRIES,
    min_backoff=queue.WEBHOOK_MIN_BACKOFF_MS,
    max_backoff=queue.WEBHOOK_MAX_BACKOFF_MS,
    time_limit=queue.WEBHOOK_TIME_LIMIT_MS,
)
def deliver_webhook(delivery_id: int) -> None:
    deliver(delivery_id, final_attempt=queue.last_delivery(queue.WEBHOOK_RETRIES))


def deliver(delivery_id: int, final_attempt: bool) -> None:
    """One attempt; raises on failure so the actor retries with backoff, and records the outcome either way.

    Each attempt goes to the owner's webhook as it is now (a changed URL gets the retries, a removed webhook ends
    them) and carries a download link made now, valid for DOWNLOAD_LINK_SECONDS from this attempt."""
    delivery = WebhookDelivery.objects.select_related("owner__webhook", "job").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return
    endpoint = getattr(delivery.owner, "webhook", None)
    if endpoint is None:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.CANCELED,
            finished_at=timezone.now(),
            last_error="The webhook was removed before this event could be delivered.",
        )
        return
    payload = _with_fresh_link(delivery.payload, delivery.job)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), body)}
    fields = {"attempts": delivery.attempts + 1, "url": endpoint.url}
    try:
        status = _post(endpoint.url, body, headers)
        fields["response_status"] = status
        if not 200 <= status < 300:
            raise DeliveryFailed(f"HTTP {status}")
    except (urllib3.exceptions.HTTPError, OSError, DeliveryFailed, JobRejected) as error:
        fields["last_error"] = str(error)[:500]
        if final_attempt:
            fields.update(status=WebhookDelivery.Status.FAILED, finished_at=timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if not final_attempt:
            raise DeliveryFailed(fields["last_error"]) from error
        return
    fields.update(status=WebhookDelivery.Status.DELIVERED, finished_at=timezone.now(), last_error="")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)


def _with_fresh_link(payload: dict, job: Job | None) -> dict:
    if job is None or "download_url" not in payload.get("data", {}) or not job.output:
        return payload
    return {**payload, "data": {**payload["data"], "download_url": storage.download_link(job, job.output.name)}}


def _post(url: str, body: bytes, headers: dict) -> int:
    """POST to the address resolve() checked, naming the URL's host in Host (and in TLS SNI and the certificate
    check), without following redirects."""
    parts, port = _parts(url)
    address = resolve(url)
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default_port = 443 if parts.scheme == "https" else 80
    headers = {**headers, "Host": host if port == default_port else f"{host}:{port}"}
    timeout = urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    with pool:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False, retries=False)
        return response.status


class DeliveryFailed(Exception):
    pass
