from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from analysis.ai.connection_check import check_openai
        from analysis.apply import APPLY_JOB, apply_job, apply_key, restore_plan_status
        from analysis.generate import (
            ANALYSIS_CHUNK_JOB,
            ANALYSIS_JOB,
            run_analysis,
            run_analysis_chunk,
        )
        from analysis.review import forget_removed_scenes
        from analysis.sources import register_source
        from analysis.sources.ai import AI_SOURCE
        from analysis.sources.path import PATH_SOURCE
        from analysis.sources.stashbox import STASHBOX_SOURCE
        from jobs.models import Job
        from jobs.runner import register_job_type
        from jobs.signals import job_finished
        from scenes.signals import scenes_removed
        from settings_app import get_setting
        from settings_app.connections import AI, register_connection_check

        # AI work runs on its own queue. Analyses may overlap (each writes its own plan), up
        # to the setting's limit: each may spend up to analysis_max_cost_usd, so the limit
        # bounds what runs up a bill at once; a request beyond it is refused (409), never
        # queued to spend later unseen.
        register_job_type(ANALYSIS_JOB, run_analysis, queue="ai",
                          limit=lambda: get_setting("analysis_max_concurrent_jobs"))
        # An AI analysis's chunks, on every worker of the queue; a chunk lost with its
        # worker runs again from the start (it removes what the lost run wrote first).
        register_job_type(ANALYSIS_CHUNK_JOB, run_analysis_chunk, queue="ai", idempotent=True)
        register_job_type(APPLY_JOB, apply_job, exclusive_key=apply_key)
        job_finished.connect(restore_plan_status, sender=Job, dispatch_uid="analysis.apply")
        scenes_removed.connect(forget_removed_scenes, dispatch_uid="analysis.forget_scenes")
        register_connection_check(AI, check_openai)
        register_source(PATH_SOURCE)
        register_source(AI_SOURCE)
        register_source(STASHBOX_SOURCE)
