from analysis.views import AnalysisViewSet, ChangeViewSet, PlanChangeListViewSet, PlanViewSet
from stashhog.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register(r"analysis/plans/(?P<plan_id>\d+)/changes", PlanChangeListViewSet,
                basename="analysis-plan-change")
router.register("analysis/plans", PlanViewSet, basename="analysis-plan")
router.register("analysis/changes", ChangeViewSet, basename="analysis-change")
router.register("analysis", AnalysisViewSet, basename="analysis")

urlpatterns = router.urls
