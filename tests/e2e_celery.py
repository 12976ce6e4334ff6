"""The Celery app of e2e workers: StashHog's app plus the test-only modules named in
``STASHHOG_E2E_IMPORTS`` (comma-separated), e.g. ``tests.jobs.demo_jobs``."""

import importlib
import os

from stashhog.celery import app

for module in filter(None, os.environ.get("STASHHOG_E2E_IMPORTS", "").split(",")):
    importlib.import_module(module.strip())

__all__ = ["app"]
