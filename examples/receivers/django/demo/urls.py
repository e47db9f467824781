from django.urls import include, path

from . import handlers  # noqa: F401  (connects the signal handlers)

urlpatterns = [
    path("", include("ferry_webhooks.urls")),
]
