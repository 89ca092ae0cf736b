from django.contrib import admin
from django.urls import include, path

from portal import metrics, views
from portal.api import pages

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.scrape, name="metrics"),
    path("accounts/api-keys/", pages.api_keys, name="api_keys"),
    path("accounts/api-keys/<uuid:key_id>/revoke/", pages.revoke_api_key, name="revoke_api_key"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("library/", include("portal.library.urls")),
    path("jobs/", include("portal.jobs.urls")),
    path("billing/", include("billing.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "portal.views.server_error"
