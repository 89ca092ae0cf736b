from django.contrib import admin
from django.urls import include, path

from portal import metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.scrape, name="metrics"),
    path("accounts/", include("allauth.urls")),
    path("library/", include("portal.library.urls")),
    path("jobs/", include("portal.jobs.urls")),
    path("billing/", include("billing.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "portal.views.server_error"
