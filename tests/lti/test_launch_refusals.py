"""Every launch that must not get through, each with its own code and a page that says why: an issuer or deployment
nobody registered, a signature that is not the platform's, a replayed or unknown nonce, a missing state or state
cookie, an expired token, a platform whose keys cannot be fetched."""

import pytest
from django.test import Client
from django.urls import reverse
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiTool

from tests.lti_helpers import LTI, TestPlatform, frame_client, page_code, rsa_key


def post_launch(client, state, token, secure=False):
    return client.post(reverse("lti:launch"), {"id_token": token, "state": state}, secure=secure)


def refused_with(response, status: int, code: str) -> None:
    assert (response.status_code, page_code(response)) == (status, code), response.content[:600]
    assert "X-Frame-Options" not in response, "the refusal shows in the platform's frame"


def test_an_unregistered_issuer_cannot_even_start(platform):
    refused_with(
        frame_client().post(reverse("lti:login"), {"iss": "http://127.0.0.1:9/", "login_hint": "7"}),
        403,
        "platform_unknown",
    )
    refused_with(frame_client().post(reverse("lti:login"), {"login_hint": "7"}), 400, "login_incomplete")
    page = frame_client().get(reverse("lti:login"), {"iss": "http://127.0.0.1:9/", "login_hint": "7"})
    assert reverse("lti:setup") in page.content.decode(), "points the administrator at the setup page"


def test_a_deactivated_registration_is_unregistered(platform):
    LtiTool.objects.update(is_active=False)
    refused_with(
        frame_client().post(reverse("lti:login"), {"iss": platform.issuer, "login_hint": "7"}), 403, "platform_unknown"
    )


def test_a_launch_for_an_unregistered_deployment_is_refused(platform):
    response = platform.launch(frame_client(), "LtiDeepLinkingRequest", **{LTI + "deployment_id": "99"})
    refused_with(response, 403, "deployment_unknown")


def test_a_token_from_an_issuer_nobody_registered_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    token = platform.id_token(login["nonce"], "LtiDeepLinkingRequest", iss="http://127.0.0.1:9")
    refused_with(post_launch(frame, login["state"], token), 403, "platform_unknown")


def test_a_signature_by_another_key_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    forged = platform.id_token(login["nonce"], "LtiDeepLinkingRequest", key=rsa_key())  # same kid, wrong key
    refused_with(post_launch(frame, login["state"], forged), 403, "signature_invalid")
    unknown_kid = platform.id_token(login["nonce"], "LtiDeepLinkingRequest", kid="not-published")
    refused_with(post_launch(frame, login["state"], unknown_kid), 403, "signature_invalid")


def test_a_tampered_token_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    header, body, signature = platform.id_token(login["nonce"], "LtiDeepLinkingRequest").split(".")
    other_body = platform.id_token(login["nonce"], "LtiDeepLinkingRequest", sub="someone-else").split(".")[1]
    refused_with(post_launch(frame, login["state"], f"{header}.{other_body}.{signature}"), 403, "signature_invalid")
    refused_with(post_launch(frame, login["state"], "not.a-jwt"), 400, "token_malformed")


def test_a_replayed_launch_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    token = platform.id_token(login["nonce"], "LtiDeepLinkingRequest")
    assert post_launch(frame, login["state"], token).status_code == 302
    refused_with(post_launch(frame, login["state"], token), 403, "launch_replayed")
    # The same nonce in a freshly signed token: spent too.
    again = platform.id_token(login["nonce"], "LtiDeepLinkingRequest", jti="another")
    refused_with(post_launch(frame, login["state"], again), 403, "launch_replayed")
    # And from another browser that never had the state cookie.
    refused_with(post_launch(frame_client(), login["state"], token), 403, "launch_replayed")


def test_a_nonce_the_login_never_issued_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    token = platform.id_token("made-up-nonce", "LtiDeepLinkingRequest")
    refused_with(post_launch(frame, login["state"], token), 403, "nonce_unknown")


def test_a_missing_state_or_state_cookie_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame)
    token = platform.id_token(login["nonce"], "LtiDeepLinkingRequest")
    refused_with(frame.post(reverse("lti:launch"), {"id_token": token}), 400, "state_missing")
    refused_with(frame.post(reverse("lti:launch"), {"state": login["state"]}), 400, "token_missing")
    refused_with(post_launch(frame_client(), login["state"], token), 403, "state_mismatch")
    refused_with(post_launch(frame, "state-made-up", token), 403, "state_mismatch")


def test_over_https_a_launch_without_the_login_cookie_is_refused(platform):
    frame = frame_client()
    login = platform.login(frame, secure=True)
    token = platform.id_token(login["nonce"], "LtiDeepLinkingRequest")
    refused_with(post_launch(frame_client(), login["state"], token, secure=True), 403, "cookie_missing")


@pytest.mark.parametrize(
    "claims, code",
    [
        ({"exp": 1_000_000_000}, "token_expired"),
        ({"iat": None}, "token_invalid"),
        ({LTI + "version": "1.1"}, "message_invalid"),
        ({LTI + "roles": None}, "message_invalid"),
        ({LTI + "message_type": "LtiSubmissionReviewRequest"}, "message_invalid"),
        ({LTI + "message_type": "DataPrivacyLaunchRequest"}, "message_invalid"),  # it must not name a course
        (
            {
                LTI + "message_type": "DataPrivacyLaunchRequest",
                LTI + "context": None,
                LTI + "for_user": {"user_id": "7"},
            },
            "message_unsupported",
        ),
    ],
)
def test_a_token_lti_does_not_allow_is_refused(platform, claims, code):
    response = platform.launch(frame_client(), "LtiDeepLinkingRequest", **claims)
    assert page_code(response) == code, response.content[:600]
    assert response.status_code in (400, 403)


def test_a_platform_whose_keys_cannot_be_fetched_is_named(db):
    with TestPlatform() as gone:
        gone.register()
        frame = frame_client()
        login = gone.login(frame)
        token = gone.id_token(login["nonce"], "LtiDeepLinkingRequest")
    # Its loopback server has stopped: the key set is unreachable.
    refused_with(post_launch(frame, login["state"], token), 502, "platform_keys_unavailable")


def test_the_platform_key_set_is_fetched_once_an_hour_not_per_launch(platform):
    for _ in range(2):
        assert platform.launch(frame_client(), "LtiDeepLinkingRequest").status_code == 302
    assert platform.key_set_requests == 1


def test_the_launch_endpoints_take_posts_from_another_site_without_csrf_token(platform):
    """The platform's form posts carry no CSRF token of ours; the id_token is their proof (checked above)."""
    assert platform.launch(Client(enforce_csrf_checks=True), "LtiDeepLinkingRequest").status_code == 302
    assert frame_client().get(reverse("lti:launch")).status_code == 405
