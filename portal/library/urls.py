from django.urls import path

from portal.library import views

app_name = "library"

urlpatterns = [
    path("", views.index, name="index"),
    path("portraits/", views.upload_portrait, name="upload_portrait"),
    path("portraits/<uuid:portrait_id>/image/", views.portrait_image, name="portrait_image"),
    path("portraits/<uuid:portrait_id>/thumbnail/", views.portrait_thumbnail, name="portrait_thumbnail"),
    path("portraits/<uuid:portrait_id>/delete/", views.delete_portrait, name="delete_portrait"),
    path("audio/", views.upload_audio, name="upload_audio"),
    path("uploads/", views.uploads, name="uploads"),
    path("uploads/<uuid:upload_id>/", views.upload, name="upload"),
    path("uploads/<uuid:upload_id>/dismiss/", views.dismiss_upload, name="dismiss_upload"),
    path("audio/<uuid:audio_id>/file/", views.audio_file, name="audio_file"),
    path("audio/<uuid:audio_id>/delete/", views.delete_audio, name="delete_audio"),
    path("scripts/new/", views.new_script, name="new_script"),
    path("scripts/<uuid:script_id>/", views.script, name="script"),
    path("scripts/<uuid:script_id>/delete/", views.delete_script, name="delete_script"),
]
