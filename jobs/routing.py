from typing import Any

from django.urls import re_path

from jobs.consumers import AllJobsConsumer, JobConsumer

# Channels routes ASGI consumers with Django's re_path, which Django's stubs type for views.
websocket_urlpatterns: list[Any] = [
    re_path(r"^api/jobs/ws/?$", AllJobsConsumer.as_asgi()),  # type: ignore[arg-type]
    re_path(r"^api/jobs/(?P<job_id>[^/]+)/ws/?$",
            JobConsumer.as_asgi()),  # type: ignore[arg-type]
]
