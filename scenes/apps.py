from django.apps import AppConfig


class ScenesConfig(AppConfig):
    name = "scenes"
    verbose_name = "Library"

    def ready(self):
        from scenes import jobs  # noqa: F401 - registers the sync job type
