from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from portal.support import second_factor


def _context(**values) -> dict:
    return {"minutes": second_factor.SETUP_LINK_MINUTES, **values}


@login_required
@require_http_methods(["GET", "POST"])
def second_factor_setup(request):
    """Why staff need an authenticator app, and the button that emails the one-time link to set it up."""
    if not second_factor.needs_second_factor(request.user):
        return redirect("mfa_index")
    sent = None
    if request.method == "POST":
        sent = second_factor.send_setup_link(request)
        if not sent:
            messages.info(request, _("A link was sent less than a minute ago; check your email."))
    return render(request, "support/second_factor_setup.html", _context(sent=sent))


@login_required
@require_GET
def second_factor_setup_link(request, token):
    """The emailed link: this browser may set up the authenticator app now."""
    if not second_factor.open_setup_link(request, token):
        return render(request, "support/second_factor_setup.html", _context(link_refused=True), status=400)
    return redirect(f"{reverse('mfa_activate_totp')}?next={reverse('admin:index')}")
