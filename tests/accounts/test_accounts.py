import re

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from portal.accounts.models import User
from tests.factories import make_user

PASSWORD = "a long and unusual passphrase"


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


@pytest.mark.slow
@override_settings(SITE_URL="https://studio.example.org")
def test_signup_requires_email_verification_then_logs_in(client, db):
    response = client.post(
        reverse("account_signup"), {"email": "Teacher@Example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "teacher@example.com"
    # Not verified yet: the library is out of reach.
    assert client.get(reverse("library:index")).status_code == 302

    (message,) = mail.outbox
    assert message.body.startswith("Hello from Sonic Portal!") and "testserver" not in message.body
    assert message.body.rstrip().endswith("Thank you for using Sonic Portal!\nstudio.example.org")
    assert "register an account on studio.example.org" in message.body
    link = link_in(message)
    assert link.startswith("https://studio.example.org/accounts/confirm-email/"), "links are built on SITE_URL"
    path = link.removeprefix("https://studio.example.org")
    assert client.get(path).status_code == 200  # a confirmation page; GET does not confirm
    response = client.post(path)
    assert response.status_code == 302
    assert client.get(reverse("library:index")).status_code == 200


@pytest.mark.slow
def test_login_with_email_and_logout(client, db):
    make_user("marketer@example.com", PASSWORD)
    response = client.post(reverse("account_login"), {"login": "marketer@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("library:index")
    assert client.get(reverse("library:index")).status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(reverse("library:index")).status_code == 302


def test_unverified_account_cannot_log_in_until_verified(client, db):
    User.objects.create_user(email="new@example.com", password=PASSWORD)
    response = client.post(reverse("account_login"), {"login": "new@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("library:index")).status_code == 302


def test_wrong_password_is_refused_and_then_throttled(client, db):
    make_user("target@example.com", PASSWORD)
    pages = [
        client.post(reverse("account_login"), {"login": "target@example.com", "password": f"guess {n}"})
        for n in range(6)
    ]
    assert all(page.status_code == 200 for page in pages)  # the form again, with an error
    assert b"Too many failed login attempts" not in pages[4].content
    assert b"Too many failed login attempts" in pages[5].content, "allauth's login_failed limit stops guess six"
    # Even the right password is refused while the account is throttled.
    response = client.post(reverse("account_login"), {"login": "target@example.com", "password": PASSWORD})
    assert b"Too many failed login attempts" in response.content
    assert client.get(reverse("library:index")).status_code == 302


@override_settings(SITE_URL="https://studio.example.org")
def test_password_reset_by_email(client, db):
    make_user("forgetful@example.com", PASSWORD)
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    (message,) = mail.outbox
    link = link_in(message)
    assert link.startswith("https://studio.example.org/accounts/password/reset/key/")
    response = client.get(link.removeprefix("https://studio.example.org"), follow=True)
    form_path = response.redirect_chain[-1][0] if response.redirect_chain else link
    new_password = "another long passphrase 42"
    response = client.post(form_path, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    assert client.login(email="forgetful@example.com", password=new_password)


def test_password_change(client, db):
    user = make_user("changer@example.com", PASSWORD)
    client.force_login(user)
    new_password = "a different passphrase 7"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_account_pages_use_the_portal_layout(client, db):
    page = client.get(reverse("account_login")).content.decode()
    assert 'class="topbar"' in page and "css/portal.css" in page


def test_home_greets_visitors_and_signed_in_users_differently(client, db):
    assert b"Give a photo a voice" in client.get("/").content
    client.force_login(make_user("someone@example.com"))
    page = client.get("/").content.decode()
    assert "Give a photo a voice" not in page and "Welcome back" in page
