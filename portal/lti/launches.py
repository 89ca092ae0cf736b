"""What a course platform sends us, checked by pylti1p3 one step at a time so that each way a launch fails has its
own stable code; and what we remember of a launch between the platform's POST and the teacher's choice.

pylti1p3 keeps the OIDC state in a cookie (SameSite=None; Secure over HTTPS, which a frame on another site needs)
and the nonce and launch in the cache; it checks the state, the id_token's signature against the platform's key set
(fetched from its URL, cached an hour), the nonce, the registration and the deployment. It does not make a nonce
single-use (a page reload may post the same id_token again), so `_spend_nonce` does: a replayed launch is refused.
"""

import hashlib
from typing import Final, cast
from urllib.parse import urlsplit

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoDbToolConf, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.exception import LtiException, OIDCException

from portal.accounts.models import User
from portal.errors import Refusal

CUSTOM: Final = "https://purl.imsglobal.org/spec/lti/claim/custom"
CONTEXT: Final = "https://purl.imsglobal.org/spec/lti/claim/context"
DEPLOYMENT: Final = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
TOOL_PLATFORM: Final = "https://purl.imsglobal.org/spec/lti/claim/tool_platform"
PRESENTATION: Final = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
DEEP_LINKING: Final = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

# How long a launch (and the nonce of its login) is kept: time for a teacher to sign in and choose a video.
LAUNCH_SECONDS = 60 * 60
KEY_SET_CACHE_SECONDS = 60 * 60
KEY_SET_TIMEOUT_SECONDS = 5


class LaunchRefused(Refusal):
    default_status = 403


REFUSALS = {
    "login_incomplete": (
        400,
        _("The course platform's sign-in request is missing its issuer or user. Open the activity again."),
    ),
    "platform_unknown": (
        403,
        _(
            "This course platform is not registered with Sonic Portal. Ask your school's platform administrator "
            "to register it: Sonic Portal's LTI setup page says how."
        ),
    ),
    "deployment_unknown": (
        403,
        _(
            "Sonic Portal is not registered for this deployment of your course platform. Ask your school's "
            "platform administrator to send its deployment ID to Sonic Portal support."
        ),
    ),
    "token_missing": (400, _("The course platform sent no launch token. Open the activity again.")),
    "state_missing": (400, _("The launch has no state. Open the activity again from your course.")),
    "state_mismatch": (
        403,
        _(
            "This launch did not start in this browser, or the browser blocked Sonic Portal's cookie inside the "
            "course page. Open the activity again; if this keeps happening, allow cookies for Sonic Portal."
        ),
    ),
    "cookie_missing": (
        403,
        _(
            "Your browser blocked Sonic Portal's cookie inside the course page. Allow cookies for Sonic Portal, "
            "or open the activity in a new window."
        ),
    ),
    "token_malformed": (400, _("The launch token could not be read.")),
    "nonce_unknown": (
        403,
        _("This launch did not come through Sonic Portal's sign-in step, or it expired. Open the activity again."),
    ),
    "launch_replayed": (403, _("This launch was already used. Open the activity again from your course.")),
    "signature_invalid": (403, _("The launch token is not signed with your course platform's keys.")),
    "token_expired": (403, _("The launch token has expired. Open the activity again.")),
    "token_invalid": (403, _("The launch token is incomplete or not valid yet.")),
    "platform_keys_unavailable": (
        502,
        _("Sonic Portal could not fetch your course platform's public keys. Try again in a minute."),
    ),
    "message_invalid": (
        400,
        _(
            "Sonic Portal cannot use this launch: it needs a user, roles and LTI 1.3.0, and a content selection "
            "must accept resource links."
        ),
    ),
    "message_unsupported": (
        400,
        _("Sonic Portal plays videos and lets teachers choose them; it does not take this kind of launch."),
    ),
    "picker_expired": (
        404,
        _("This video chooser has expired or never existed. Open it again from your course."),
    ),
    "picker_taken": (
        409,
        _("Someone else has already signed in to this video chooser. Open it again from your course."),
    ),
}


def refused(code: str) -> LaunchRefused:
    status, message = REFUSALS[code]
    return LaunchRefused(code, message, status)


def launch_url() -> str:
    """Where platforms post every launch (the redirect URI and target link URI they are given)."""
    return settings.SITE_URL + reverse("lti:launch")


class _KeySetSession(requests.Session):
    """pylti1p3 fetches a platform's key set with no timeout: a platform that hangs must not hold a web worker."""

    def __init__(self):
        super().__init__()
        self.headers["User-Agent"] = "Sonic Portal LTI"

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", KEY_SET_TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def login_redirect(request):
    """The platform's OIDC login initiation, answered with the redirect to its authorisation endpoint."""
    login = DjangoOIDCLogin(request, DjangoDbToolConf())
    try:
        login.set_launch_data_storage(DjangoCacheDataStorage()).set_launch_data_lifetime(LAUNCH_SECONDS)
        return login.redirect(launch_url())
    except OIDCException:
        raise refused("login_incomplete") from None
    except LtiException:  # no active registration for this issuer (and client id)
        raise refused("platform_unknown") from None


def validated_launch(request) -> DjangoMessageLaunch:
    """The launch the platform posted, every check passed and its data saved for `restored`; else LaunchRefused."""
    if not request.POST.get("id_token"):
        raise refused("token_missing")
    if not request.POST.get("state"):
        raise refused("state_missing")
    storage = DjangoCacheDataStorage()
    launch = DjangoMessageLaunch(request, DjangoDbToolConf(), requests_session=_KeySetSession())
    try:
        launch.set_launch_data_storage(storage)  # over HTTPS: needs the cookie the login step set
    except LtiException:
        raise refused("cookie_missing") from None
    launch.set_launch_data_lifetime(LAUNCH_SECONDS)
    launch.set_public_key_caching(storage, KEY_SET_CACHE_SECONDS)
    # The audience is checked by finding the registration for it; LTI requires exp and iat (a list for PyJWT, whatever
    # pylti1p3's type hint says).
    launch.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})  # type: ignore[dict-item]
    # pylti1p3's validate() in the same order, each step with its own code.
    launch.set_auto_validation(enable=False)
    for step, code in (
        (launch.validate_state, "state_mismatch"),
        (launch.validate_jwt_format, "token_malformed"),
        (launch.validate_nonce, "nonce_unknown"),
        (launch.validate_registration, "platform_unknown"),
        (launch.validate_jwt_signature, "signature_invalid"),
        (launch.validate_deployment, "deployment_unknown"),
        (launch.validate_message, "message_invalid"),
    ):
        try:
            step()
        except LtiException as problem:
            raise refused(_signature_problem(problem) if code == "signature_invalid" else code) from problem
    _spend_nonce(launch.get_launch_data())
    launch.save_launch_data()
    return launch


def _signature_problem(problem: LtiException) -> str:
    cause = problem.__cause__
    if isinstance(cause, requests.RequestException):  # unreachable, or not JSON
        return "platform_keys_unavailable"
    if isinstance(cause, jwt.ExpiredSignatureError):
        return "token_expired"
    if cause is None or isinstance(cause, jwt.InvalidSignatureError):  # no key with its kid, or the wrong key
        return "signature_invalid"
    return "token_invalid"


def _spend_nonce(body) -> None:
    key = "lti-nonce-spent:" + hashlib.sha256(f"{body.get('iss')}\n{body.get('nonce')}".encode()).hexdigest()
    # add() is atomic in Redis: of two posts of one id_token, however close, exactly one gets through. The mark
    # outlives the nonce pylti1p3 keeps from the login step.
    if not cache.add(key, True, timeout=2 * LAUNCH_SECONDS):
        raise refused("launch_replayed")


def follow_platform_language(locale: str) -> None:
    """The course says its language (launch_presentation.locale): pages in its frame follow it."""
    if not locale:
        return
    try:
        translation.activate(translation.get_supported_language_variant(locale.replace("_", "-").lower()))
    except LookupError:
        pass


# --- Deep linking: between the platform's launch and the teacher's choice ---------------------------------------
# The frame may send us no cookie of ours at all (third-party cookies), so the chooser is found by its launch id, in
# its address, and the teacher by what they confirmed in a window of our own (`claim`), not by the session.
_CHOOSER = "lti-chooser:"
_TEACHER = "lti-chooser-teacher:"


def _clip(value, length: int = 255) -> str:
    return str(value or "")[:length]


def summary(body) -> dict:
    """What the chooser and its confirmation page show and what a placed video records, from the signed launch."""
    context = body.get(CONTEXT) or {}
    platform = body.get(TOOL_PLATFORM) or {}
    audience = body.get("aud")
    return {
        "issuer": _clip(body.get("iss")),
        "client_id": _clip(audience[0] if isinstance(audience, list) else audience),
        "deployment_id": _clip(body.get(DEPLOYMENT)),
        "course_id": _clip(context.get("id")),
        "course_title": _clip(context.get("title") or context.get("label")),
        "platform": _clip(platform.get("name") or urlsplit(str(body.get("iss"))).netloc or body.get("iss")),
        "locale": _clip((body.get(PRESENTATION) or {}).get("locale"), 35),
    }


def open_chooser(launch: DjangoMessageLaunch) -> str:
    launch_id = launch.get_launch_id()
    cache.set(_CHOOSER + launch_id, summary(launch.get_launch_data()), timeout=LAUNCH_SECONDS)
    return launch_id


def chooser(launch_id: str) -> dict:
    found = cache.get(_CHOOSER + launch_id)
    if found is None:
        raise refused("picker_expired")
    return found


def chooser_teacher(launch_id: str) -> User | None:
    user_id = cache.get(_TEACHER + launch_id)
    return User.objects.filter(pk=user_id, is_active=True).first() if user_id is not None else None


def claim(launch_id: str, user: User) -> None:
    """The signed-in user chooses for this launch. The first to confirm keeps it (add() is atomic)."""
    chooser(launch_id)
    key = _TEACHER + launch_id
    if not cache.add(key, user.pk, timeout=LAUNCH_SECONDS) and cache.get(key) != user.pk:
        raise refused("picker_taken")


def restored(request, launch_id: str) -> DjangoMessageLaunch:
    """The deep-linking launch saved by `validated_launch`, to answer it (over HTTPS only in the browser it ran in)."""
    try:
        launch = DjangoMessageLaunch.from_cache(
            launch_id, request, DjangoDbToolConf(), launch_data_storage=DjangoCacheDataStorage()
        )
    except LtiException:
        raise refused("picker_expired") from None
    return cast(DjangoMessageLaunch, launch)
