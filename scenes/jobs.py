"""The job types scenes registers with the runner."""

from jobs.runner import job_type
from scenes.sync import client_from_settings, run_sync

SYNC_JOB = "sync"


def _sync_key(_parameters: dict) -> str:
    return "sync"  # at most one sync at a time, whatever its parameters


@job_type(SYNC_JOB, exclusive_key=_sync_key)
def sync_job(progress, parameters: dict) -> dict:
    """Parameters: ``incremental`` (default true). Result: see ``scenes.sync.run_sync``."""
    return run_sync(
        client_from_settings, progress, incremental=parameters.get("incremental", True)
    )
