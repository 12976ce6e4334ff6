from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from analysis import apply, jobs  # noqa: F401 - register the analysis and apply jobs
        from analysis.review import forget_removed_scenes
        from scenes.signals import scenes_removed

        scenes_removed.connect(forget_removed_scenes, dispatch_uid="analysis.forget_scenes")
