from automation.views import ScheduleViewSet
from stashhog.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.include_root_view = False
router.register("schedules", ScheduleViewSet, basename="schedule")

urlpatterns = router.urls
