"""Ferry's signed webhooks in a Django project: see views.py."""
