from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from portal import metrics_endpoint, views
from portal.accounts import views as account_views
from portal.api import pages
from portal.jobs import views as job_views
from portal.support import views as support_views

admin.site.site_header = admin.site.site_title = gettext_lazy("Sonic Portal support")
admin.site.index_title = gettext_lazy("Find a job, an account or an audit event")
admin.site.enable_nav_sidebar = False  # the breadcrumbs lead back; its 300 px are the job list's columns at 1280 px
# Staff sign in through the portal's login: the same throttling, and the second factor when they have one.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_endpoint.scrape, name="metrics"),
    path("accounts/preferences/", account_views.preferences, name="account_preferences"),
    path("accounts/api-keys/", pages.api_keys, name="api_keys"),
    path("accounts/api-keys/<uuid:key_id>/revoke/", pages.revoke_api_key, name="revoke_api_key"),
    # Staff who need a second factor set up their first authenticator app from a link emailed to them.
    path("accounts/2fa/staff/", support_views.second_factor_setup, name="second_factor_setup"),
    path("accounts/2fa/staff/<str:token>/", support_views.second_factor_setup_link, name="second_factor_setup_link"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("library/", include("portal.library.urls")),
    path("jobs/", include("portal.jobs.urls")),
    # Shared videos: public, no session needed; the token is the whole secret.
    path("watch/<str:token>/", job_views.shared_video, name="shared_video"),
    path("watch/<str:token>/video.mp4", job_views.shared_video_file, name="shared_video_file"),
    path("watch/<str:token>/poster.jpg", job_views.shared_video_poster, name="shared_video_poster"),
    path("watch/<str:token>/captions.vtt", job_views.shared_video_captions, name="shared_video_captions"),
    path("billing/", include("billing.urls")),
    # LTI 1.3 (Moodle, Canvas): deep linking for teachers, the video for students; the setup page for admins.
    path("lti/", include("portal.lti.urls")),
    path("admin/", admin.site.urls),
    # The language switcher posts to i18n/setlang/; URLs carry no language prefix (Accept-Language and the cookie).
    path("i18n/", include("django.conf.urls.i18n")),
    # Every page loads it: the browser keeps it an hour (the page's language is in its URL, so switching fetches
    # the other catalogue instead of reusing this one).
    path("i18n/js/", cache_control(private=True, max_age=3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
]

handler500 = "portal.views.server_error"
