"""The portal's URLs plus one view that fails, to see the 500 page as a user would."""

from django.urls import path

from portal.urls import handler500  # noqa: F401 - the handler is what we test
from portal.urls import urlpatterns as portal_urlpatterns


def fails(request):
    raise RuntimeError("a bug on our side")


urlpatterns = [path("fails/", fails), *portal_urlpatterns]
