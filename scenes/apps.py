from django.apps import AppConfig


class ScenesConfig(AppConfig):
    name = "scenes"
    verbose_name = "Library"

    def ready(self):
        from jobs.runner import register_job_type
        from scenes.stash.connection_check import check_stash
        from scenes.sync_job import SYNC_JOB, sync_job, sync_key
        from settings_app.connections import STASH, register_connection_check

        register_job_type(SYNC_JOB, sync_job, exclusive_key=sync_key)
        register_connection_check(STASH, check_stash)
