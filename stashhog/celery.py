"""The Celery application: the distributed engine behind every StashHog job."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stashhog.settings")

app = Celery("stashhog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
