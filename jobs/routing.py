from django.urls import re_path

from jobs.consumers import AllJobsConsumer, JobConsumer

websocket_urlpatterns = [
    re_path(r"^api/jobs/ws/?$", AllJobsConsumer.as_asgi()),
    re_path(r"^api/jobs/(?P<job_id>[^/]+)/ws/?$", JobConsumer.as_asgi()),
]
