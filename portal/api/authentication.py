"""`Authorization: Bearer <key>` for scripts; the portal's own pages use their session (DRF's, with CSRF)."""

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from portal.api import keys


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        words = authentication.get_authorization_header(request).split()
        if not words or words[0].lower() != b"bearer":
            return None  # no key: the session may still authenticate the request
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as 'Authorization: Bearer <key>', with no spaces in the key."), code="invalid_api_key"
            )
        api_key = keys.find(words[1].decode("latin-1"))
        if api_key is None or not api_key.owner.is_active:
            raise exceptions.AuthenticationFailed(_("The API key is not valid."), code="invalid_api_key")
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                _("The API key %(prefix)s… was revoked; make a new one in your account.") % {"prefix": api_key.prefix},
                code="api_key_revoked",
            )
        if api_key.is_expired:
            raise exceptions.AuthenticationFailed(
                _("The API key %(prefix)s… expired on %(expired_at)s UTC; make a new one in your account.")
                % {"prefix": api_key.prefix, "expired_at": f"{api_key.expires_at:%Y-%m-%d %H:%M}"},
                code="api_key_expired",
            )
        keys.touch(api_key)
        return api_key.owner, api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
