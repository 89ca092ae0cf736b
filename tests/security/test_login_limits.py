"""Brute force on both login forms: admin's sends every sign-in to the portal's (allauth's, with its limits), and
there guesses are limited per client and per account. Behind the proxy the README asks for, each client is counted
by the address the proxy appended to X-Forwarded-For, so one attacker cannot use up everyone's allowance, and an
address an attacker writes into the header themselves is not the one counted."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.factories import PASSWORD, make_user

THROTTLED = b"Too many failed login attempts"
LOGIN = reverse("account_login")


def guess(path: str, email: str, n: int, forwarded_for: str | None = None, remote: str = "10.0.0.1"):
    """One wrong password from a fresh browser at `remote` (the proxy's address when forwarded_for is given)."""
    client = Client(REMOTE_ADDR=remote)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(path, {"login": email, "password": f"guess {n}"}, headers=headers, follow=True)


def test_guessing_one_accounts_password_is_stopped(db):
    make_user("target@example.com", PASSWORD)
    pages = [guess(LOGIN, "target@example.com", n) for n in range(6)]
    assert THROTTLED not in pages[4].content and THROTTLED in pages[5].content


def test_the_admin_login_form_takes_no_password_itself(db):
    staff = make_user("staff@example.com", PASSWORD)
    staff.is_staff = True
    staff.save()
    client = Client()
    response = client.post("/admin/login/", {"username": "staff@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.url.startswith(LOGIN), "sent to the throttled portal login"
    assert client.get("/admin/").status_code == 302, "not signed in by the admin form"


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_each_client_has_its_own_allowance(db):
    path = LOGIN
    make_user("someone@example.com", PASSWORD)
    # One attacker spraying many accounts from one address is stopped after ten guesses...
    attacker = [guess(path, f"user{n}@example.com", n, forwarded_for="203.0.113.7") for n in range(11)]
    assert THROTTLED not in attacker[9].content and THROTTLED in attacker[10].content
    # ...while a user behind the same proxy, from another address, still signs in.
    client = Client(REMOTE_ADDR="10.0.0.1")
    response = client.post(
        path, {"login": "someone@example.com", "password": PASSWORD}, headers={"X-Forwarded-For": "198.51.100.23"}
    )
    assert response.status_code == 302


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_an_address_the_attacker_writes_into_the_header_is_not_the_one_counted(db):
    # The proxy appends what it saw after whatever the client sent: the last entry is the real client.
    pages = [guess(LOGIN, f"user{n}@example.com", n, forwarded_for=f"192.0.2.{n}, 203.0.113.7") for n in range(11)]
    assert THROTTLED in pages[10].content


@pytest.mark.slow
def test_production_counts_the_client_the_proxy_saw():
    from tests.core.test_settings import PRODUCTION_ENV, manage

    code = "from django.conf import settings; print(settings.ALLAUTH_TRUSTED_PROXY_COUNT)"
    assert manage("shell", "-c", code, env=PRODUCTION_ENV).stdout.split()[-1] == "1"
    behind_two = manage("shell", "-c", code, env={**PRODUCTION_ENV, "TRUSTED_PROXY_COUNT": "2"})
    assert behind_two.stdout.split()[-1] == "2"
