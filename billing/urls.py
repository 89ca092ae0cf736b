from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.usage, name="usage"),
    path("checkout/<slug:plan_code>/", views.checkout, name="checkout"),
    path("manage/", views.manage, name="manage"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
