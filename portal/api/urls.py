from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from portal.api import errors, views

app_name = "api"

urlpatterns = [
    path("me/", views.me, name="me"),
    path("usage/", views.usage_view, name="usage"),
    path("portraits/", views.portraits, name="portraits"),
    path("portraits/<uuid:portrait_id>/", views.portrait, name="portrait"),
    path("portraits/<uuid:portrait_id>/image/", views.portrait_image, name="portrait_image"),
    path("portraits/<uuid:portrait_id>/thumbnail/", views.portrait_thumbnail, name="portrait_thumbnail"),
    path("audio/", views.audio_clips, name="audio_clips"),
    path("audio/<uuid:audio_id>/", views.audio_clip, name="audio"),
    path("audio/<uuid:audio_id>/file/", views.audio_file, name="audio_file"),
    path("uploads/", views.uploads_list, name="uploads"),
    path("uploads/<uuid:upload_id>/", views.upload, name="upload"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job, name="job"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel_job, name="cancel_job"),
    path("jobs/<uuid:job_id>/rerun/", views.rerun_job, name="rerun_job"),
    path("jobs/<uuid:job_id>/captions/", views.job_captions, name="job_captions"),
    path("jobs/<uuid:job_id>/captions/make/", views.make_job_captions, name="make_job_captions"),
    path("jobs/<uuid:job_id>/captions/burn-in/", views.burn_in_job_captions, name="burn_in_job_captions"),
    path("jobs/<uuid:job_id>/captions.<str:file_format>", views.job_captions_file, name="job_captions_file"),
    path("preflight/", views.preflight, name="preflight"),
    path("voices/", views.voices, name="voices"),
    path("scripts/", views.scripts_list, name="scripts"),
    path("scripts/preflight/", views.script_preflight, name="script_preflight"),
    path("scripts/<uuid:script_id>/", views.script, name="script"),
    path("webhook/", views.webhook, name="webhook"),
    path("webhook/rotate-secret/", views.rotate_webhook_secret, name="rotate_webhook_secret"),
    path("webhook/deliveries/", views.webhook_deliveries, name="webhook_deliveries"),
    path("checkpoints/", views.checkpoints, name="checkpoints"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script, as the Content-Security-Policy asks.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", errors.not_found),  # anything else under /api/v1/, newlines included
]
