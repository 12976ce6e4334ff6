from django.urls import re_path

from automation.views import (
    NotifyTestViewSet,
    ScheduleViewSet,
    StashHookViewSet,
    WorkflowViewSet,
)
from stashhog.api.routers import OptionalSlashRouter
from stashhog.request_threads import own_thread

router = OptionalSlashRouter()
router.include_root_view = False
router.register("schedules", ScheduleViewSet, basename="schedule")

urlpatterns = [
    *router.urls,
    re_path(r"^workflow/?$", WorkflowViewSet.as_view({"post": "create"}), name="workflow"),
    re_path(r"^hooks/stash/?$", StashHookViewSet.as_view({"post": "create"}),
            name="hooks-stash"),
    re_path(r"^settings/test-notify/?$",
            own_thread(NotifyTestViewSet.as_view({"post": "create"})),
            name="settings-test-notify"),
]
