from scenes.views import PerformerViewSet, SceneViewSet, StudioViewSet, TagViewSet
from stashhog.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.include_root_view = False
router.register("scenes", SceneViewSet, basename="scene")
router.register("performers", PerformerViewSet, basename="performer")
router.register("tags", TagViewSet, basename="tag")
router.register("studios", StudioViewSet, basename="studio")

urlpatterns = router.urls
