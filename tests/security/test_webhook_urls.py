"""Every way we know to make the portal's workers call into its own network through a webhook URL: loopback,
private, link-local, cloud metadata, NAT64/6to4/IPv4-compatible IPv6, numeric spellings, names that resolve inward,
and URLs that parsers read differently. Each is refused when saved (web page and API) with a stable code, and no
delivery is ever attempted. Names resolve only through the project's resolver seam (a table here: no DNS query
leaves the machine); numeric hosts go through the system's numeric parser, which sends nothing."""

import socket

import pytest
from django.urls import reverse

from portal.jobs import webhooks
from portal.jobs.models import WebhookEndpoint
from tests.api.conftest import key_client

NAMES = {
    "localhost.example": ["127.0.0.1"],
    "metadata.google.internal": ["169.254.169.254"],
    "intranet.example": ["10.1.2.3"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "v6-inward.example": ["fd00::1"],
    "hooks.example": ["93.184.216.34"],  # public: accepted
    "hooks6.example": ["2606:4700::1111"],  # public IPv6: accepted
}

INWARD = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0x7f.0.0.1/",
    "http://2130706433/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2002:7f00:1::1]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[::ffff:169.254.169.254]/",
    "https://localhost.example/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet.example:8080/hook",
    "http://rebind.example/",
    "http://v6-inward.example/",
    "http://198.18.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    " http://127.0.0.1/",
    # IPv4 inside IPv6, in every form a translator or tunnel reads (the outside probe's first four passed once):
    "http://[::ffff:0:127.0.0.1]:8799/",
    "http://[::ffff:0:10.0.0.1]/",
    "http://[::ffff:0:169.254.169.254]/",
    "http://[::ffff:0:0:127.0.0.1]/",  # IPv4-translated (SIIT)
    "http://[::8.8.8.8]/",  # IPv4-compatible, even of a public address: not global unicast
    "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo, client 127.0.0.1
    "http://[64:ff9b::808:808]/",
    "http://[64:ff9b:1::808:808]/",  # NAT64, well-known and local-use prefixes
    "http://[2606:4700:1::5efe:a00:1]/",  # ISATAP interface id carrying 10.0.0.1
    # Not unicast, or not for the internet:
    "http://224.0.0.1/",
    "http://233.252.0.1/",
    "http://[ff0e::1]/",
    "http://[2001:db8::1]/",
    "http://[fc00::1]/",
]
AMBIGUOUS_OR_MALFORMED = [
    "http://127.0.0.1:18080\\@1.1.1.1/x",
    "http://1.1.1.1\\@127.0.0.1/",
    "http://user:pass@hooks.example/",
    "http://hooks.example@127.0.0.1/",
    "http://127.0.0.1%2f@hooks.example/",
    "http://hooks.example/\nHost: 127.0.0.1",
    "http://hooks .example/",
    "http://hooks.example:99999/",
    "http://hooks.example:abc/",
    "http://hooks.example:0/",
    "http://[::1/",
    "http://" + "a" * 70 + ".example/",
    "http:///path",
    "ftp://hooks.example/",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_",
    "//hooks.example/",
    "",
]


@pytest.fixture(autouse=True)
def resolver(monkeypatch):
    """Numeric hosts as the system reads them (AI_NUMERICHOST: no query is sent), names from NAMES only."""
    looked_up = []

    def getaddrinfo(host, port, *args, **kwargs):
        looked_up.append(host)
        if host in NAMES:
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in NAMES[host]
            ]
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)

    monkeypatch.setattr(webhooks, "lookup", getaddrinfo)
    return looked_up


@pytest.fixture(autouse=True)
def no_connection_is_ever_made(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a webhook connection was attempted")

    monkeypatch.setattr(webhooks, "_post", refuse)


def save_on_the_page(client, url):
    return client.post(reverse("jobs:webhook"), {"action": "save", "url": url})


@pytest.mark.parametrize("url", INWARD)
def test_inward_addresses_are_refused_on_the_page(owner_client, url):
    response = save_on_the_page(owner_client, url)
    assert response.status_code == 400
    assert (
        b'data-code="private_webhook_url"' in response.content or b'data-code="invalid_webhook_url"' in response.content
    )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", AMBIGUOUS_OR_MALFORMED)
def test_ambiguous_and_malformed_urls_are_refused_on_the_page_not_500(owner_client, url):
    response = save_on_the_page(owner_client, url)
    assert response.status_code == 400 and b'data-code="invalid_webhook_url"' in response.content
    assert not WebhookEndpoint.objects.exists()


@pytest.fixture
def api(owner):
    from billing.models import BillingAccount
    from portal.api import keys

    BillingAccount.objects.create(user=owner, plan_override="pro")
    return key_client(keys.create(owner, "attack suite")[1])


@pytest.mark.parametrize("url", INWARD + AMBIGUOUS_OR_MALFORMED)
def test_the_api_refuses_the_same_urls(api, url):
    response = api.put("/api/v1/webhook/", {"url": url}, format="json")
    assert response.status_code == 400, (url, response.status_code)
    assert response.json()["error"]["code"] in ("private_webhook_url", "invalid_webhook_url", "invalid_request")
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("host", ["hooks.example", "hooks6.example", "[2002:808:808::1]"])
def test_a_public_address_is_accepted_and_names_resolve_through_the_seam(owner_client, resolver, host):
    response = save_on_the_page(owner_client, f"https://{host}/sonic")
    assert response.status_code in (200, 302) and WebhookEndpoint.objects.get().url == f"https://{host}/sonic"
    assert resolver == [host.strip("[]")]


def test_the_refusal_names_the_ipv4_address_inside(api):
    response = api.put("/api/v1/webhook/", {"url": "http://[::ffff:0:169.254.169.254]/"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "private_webhook_url"
    assert "169.254.169.254 inside ::ffff:0:a9fe:a9fe" in response.json()["error"]["message"]
