"""POST /ferry/webhooks: include("ferry_webhooks.urls") from your project's urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("ferry/webhooks", views.ferry_webhook, name="ferry-webhook"),
]
