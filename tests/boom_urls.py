"""The portal's URLs plus one view that fails, to see the 500 page as a user would."""

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from portal.urls import handler500  # noqa: F401 - the handler is what we test
from portal.urls import urlpatterns as portal_urlpatterns


def fails(request):
    raise RuntimeError("a bug on our side")


@api_view(["GET"])
@permission_classes([AllowAny])
def api_fails(request):
    raise RuntimeError("a bug in an API view")


urlpatterns = [path("fails/", fails), path("api/v1/fails/", api_fails), *portal_urlpatterns]
