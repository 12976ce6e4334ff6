from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import pre_migrate


class ScenesConfig(AppConfig):
    name = "scenes"
    verbose_name = "Library"

    def ready(self):
        from celery.signals import worker_ready

        from jobs.runner import register_job_type
        from scenes.stash.connection_check import check_stash
        from scenes.sync_job import SYNC_JOB, sync_job, sync_key
        from settings_app.connections import STASH, register_connection_check

        register_job_type(SYNC_JOB, sync_job, exclusive_key=sync_key)
        register_connection_check(STASH, check_stash)
        # Indexes a bulk load dropped come back if its worker died: before migrations run
        # (they expect the schema their history made) and when a worker starts.
        pre_migrate.connect(_restore_indexes, sender=self,
                            dispatch_uid="scenes.restore_indexes_before_migrating")
        worker_ready.connect(_restore_indexes,
                             dispatch_uid="scenes.restore_indexes_on_worker_start")


def _restore_indexes(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    """Both signals' receiver: ``pre_migrate`` names its database, a worker start uses the
    default one."""
    from scenes.bulk_load import restore_indexes_if_migrated

    restore_indexes_if_migrated(using)
