"""The smallest Django project that mounts ferry_webhooks (for serve.py and the tests): no
database, no migrations; replays are remembered in the per-process memory cache."""

import os
import secrets

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo.urls"
INSTALLED_APPS = []
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {}
USE_TZ = True

# FERRY_WEBHOOK_SECRET_OLD: the previous secret, accepted too while it is rotated.
FERRY_WEBHOOK_SECRETS = [os.environ.get("FERRY_WEBHOOK_SECRET"),
                         os.environ.get("FERRY_WEBHOOK_SECRET_OLD")]
FERRY_WEBHOOK_TOLERANCE = 300

# A run.records batch holds up to `batch:` records (500 by default) with their diffs: more than
# Django's default 2.5 MB limit on request.body may be needed.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
