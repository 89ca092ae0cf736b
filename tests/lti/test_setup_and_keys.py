"""What a school's administrator is given (the setup page, Canvas's configuration, our key set), and our keys: made
in admin by a superuser, published without their private half, which admin never shows."""

import jwt
from django.test import Client
from django.urls import reverse
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiToolKey

from portal.lti import keys
from tests.factories import make_user, with_second_factor


def test_the_setup_page_lists_what_to_paste_into_moodle_and_canvas(db):
    page = Client().get(reverse("lti:setup"))
    assert page.status_code == 200 and page["X-Frame-Options"] == "DENY", "a portal page: not framed"
    body = page.content.decode()
    for url in ("/lti/launch/", "/lti/login/", "/lti/jwks/", "/lti/canvas.json"):
        assert f'value="http://127.0.0.1:8000{url}"' in body
    assert "Supports Deep Linking" in body and "deployment ID" in body


def test_canvas_is_configured_by_url_for_deep_linking_with_no_student_data(db):
    config = Client().get(reverse("lti:canvas_config")).json()
    assert config["oidc_initiation_url"] == "http://127.0.0.1:8000/lti/login/"
    assert config["target_link_uri"] == "http://127.0.0.1:8000/lti/launch/"
    assert config["public_jwk_url"] == "http://127.0.0.1:8000/lti/jwks/"
    (canvas,) = config["extensions"]
    assert canvas["privacy_level"] == "anonymous"
    assert {placement["message_type"] for placement in canvas["settings"]["placements"]} == {"LtiDeepLinkingRequest"}


def test_the_key_set_publishes_every_key_without_its_private_half(db):
    old, new = keys.create_key("2026"), keys.create_key("2027")
    published = Client().get(reverse("lti:jwks"))
    assert published["Cache-Control"] == "public, max-age=300"
    key_set = published.json()
    assert len(key_set["keys"]) == 2, "both, while platforms move from the old key to the new"
    for key in key_set["keys"]:
        assert set(key) == {"kty", "e", "n", "kid", "alg", "use"}, "no private parameter (d, p, q, ...)"
    signed = jwt.encode({"iss": "tool"}, new.private_key, algorithm="RS256", headers={"kid": key_set["keys"][1]["kid"]})
    verifying = jwt.PyJWKSet.from_dict(key_set)[jwt.get_unverified_header(signed)["kid"]]
    assert jwt.decode(signed, verifying.key, algorithms=["RS256"]) == {"iss": "tool"}
    assert old.private_key != new.private_key


def test_a_superuser_adds_a_tool_key_in_admin_and_never_sees_its_private_half(db):
    superuser = make_user("root@example.com")
    type(superuser).objects.filter(pk=superuser.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    with_second_factor(client, type(superuser).objects.get(pk=superuser.pk))
    added = client.post(reverse("admin:lti1p3_tool_config_ltitoolkey_add"), {"name": "2026"})
    assert added.status_code == 302, added.content[:500]
    key = LtiToolKey.objects.get(name="2026")
    assert key.private_key.startswith("-----BEGIN PRIVATE KEY-----") and key.public_jwk
    page = client.get(reverse("admin:lti1p3_tool_config_ltitoolkey_change", args=[key.pk])).content.decode()
    assert "PRIVATE KEY" not in page and key.private_key.splitlines()[1] not in page
    platforms = client.get(reverse("admin:lti1p3_tool_config_ltitool_add"))
    assert platforms.status_code == 200 and "deployment_ids" in platforms.content.decode()
