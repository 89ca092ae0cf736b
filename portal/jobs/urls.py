from django.urls import path

from portal.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("new/", views.new_job, name="new"),
    path("<uuid:job_id>/", views.job_detail, name="detail"),
    path("<uuid:job_id>/status/", views.job_status, name="status"),
    path("<uuid:job_id>/poster/", views.job_poster, name="poster"),
    path("<uuid:job_id>/captions.<str:file_format>", views.captions_file, name="captions"),
    path("<uuid:job_id>/captions/", views.edit_captions, name="edit_captions"),
    path("<uuid:job_id>/captions/make/", views.make_captions, name="make_captions"),
    path("<uuid:job_id>/captions/delete/", views.delete_captions, name="delete_captions"),
    path("<uuid:job_id>/captions/burn-in/", views.burn_in_captions, name="burn_in_captions"),
    path("<uuid:job_id>/cancel/", views.cancel_job, name="cancel"),
    path("<uuid:job_id>/rerun/", views.rerun_job, name="rerun"),
    path("<uuid:job_id>/delete/", views.delete_job, name="delete"),
    path("<uuid:job_id>/link/", views.renew_link, name="renew_link"),
    path("<uuid:job_id>/title/", views.rename_job, name="rename"),
    path("<uuid:job_id>/share/", views.share_job, name="share"),
    path("<uuid:job_id>/share/<uuid:link_id>/revoke/", views.revoke_share, name="revoke_share"),
    path("download/<str:token>/", views.download, name="download"),
    path("webhook/", views.webhook_settings, name="webhook"),
]
