"""The Celery app of e2e workers: StashHog's app plus the test-only modules named in
``STASHHOG_E2E_IMPORTS`` (comma-separated), e.g. ``tests.jobs.demo_jobs``. The worker
imports them at start, once Django is set up, like its own task modules."""

import os

from stashhog.celery import app

app.conf.imports = (
    *app.conf.imports,
    *filter(None, (name.strip() for name in os.environ.get("STASHHOG_E2E_IMPORTS", "")
                   .split(","))),
)

__all__ = ["app"]
