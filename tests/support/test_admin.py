from django.urls import reverse

from portal.accounts.models import User
from tests.factories import with_second_factor
from tests.library_helpers import add_audio, add_portrait


def test_staff_see_users_and_uploads_in_admin(client, owner):
    admin = User.objects.create_superuser(email="support@example.com", password="x")
    with_second_factor(client, admin)
    portrait, clip = add_portrait(owner), add_audio(owner)
    pages = [
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[owner.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:library_portrait_changelist") + "?q=owner@example.com",
        reverse("admin:library_portrait_change", args=[portrait.pk]),
        reverse("admin:library_audioclip_changelist"),
        reverse("admin:library_audioclip_change", args=[clip.pk]),
    ]
    for page in pages:
        assert client.get(page).status_code == 200, page
    assert "owner@example.com" in client.get(reverse("admin:library_portrait_changelist")).content.decode()


def test_admin_creates_users_with_lowercased_email(client, db):
    with_second_factor(client, User.objects.create_superuser(email="support@example.com", password="x"))
    response = client.post(
        reverse("admin:accounts_user_add"),
        {"email": "New.Person@Example.com", "password1": "a long passphrase 9", "password2": "a long passphrase 9"},
    )
    assert response.status_code == 302
    assert User.objects.filter(email="new.person@example.com").exists()


def test_regular_users_cannot_open_admin(owner_client):
    response = owner_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response.url
