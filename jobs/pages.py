"""Non-API pages of the jobs app (the job monitor)."""

urlpatterns = []
