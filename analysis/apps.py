from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from analysis import jobs  # noqa: F401 - registers the analysis job type
        from analysis.review import forget_removed_scenes
        from scenes.signals import scenes_removed

        scenes_removed.connect(forget_removed_scenes, dispatch_uid="analysis.forget_scenes")
