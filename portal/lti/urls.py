from django.urls import path

from portal.lti import views

app_name = "lti"

urlpatterns = [
    path("", views.setup, name="setup"),
    path("canvas.json", views.canvas_config, name="canvas_config"),
    path("jwks/", views.jwks, name="jwks"),
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    # The launch id is the chooser's whole address: a bearer secret, like a share link's token.
    path("pick/<str:launch_id>/", views.pick_video, name="pick_video"),
    path("pick/<str:launch_id>/status/", views.pick_status, name="pick_status"),
    path("pick/<str:launch_id>/sign-in/", views.pick_sign_in, name="pick_sign_in"),
]
