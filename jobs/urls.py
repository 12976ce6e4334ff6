from stashhog.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()

urlpatterns = router.urls
