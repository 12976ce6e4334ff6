from analysis.views import (
    AnalysisViewSet,
    ChangeViewSet,
    PlanChangeListViewSet,
    PlanViewSet,
    RejectionViewSet,
    SceneHistoryViewSet,
)
from stashhog.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register(r"analysis/plans/(?P<plan_id>\d+)/changes", PlanChangeListViewSet,
                basename="analysis-plan-change")
router.register("analysis/plans", PlanViewSet, basename="analysis-plan")
router.register("analysis/changes", ChangeViewSet, basename="analysis-change")
router.register("analysis/rejections", RejectionViewSet, basename="analysis-rejection")
router.register("analysis", AnalysisViewSet, basename="analysis")
# A scene's history is what analysis applied to it: analysis answers it (scenes knows no plans).
router.register(r"scenes/(?P<scene_id>[^/]+)/history", SceneHistoryViewSet,
                basename="scene-history")

urlpatterns = router.urls
