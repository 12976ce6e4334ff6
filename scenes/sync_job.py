"""The sync job body; ``ScenesConfig.ready`` registers it with the runner."""

from scenes.sync import client_from_settings, run_sync

SYNC_JOB = "sync"


def sync_key(_parameters: dict) -> str:
    return "sync"  # at most one sync at a time, whatever its parameters


def sync_job(progress, parameters: dict) -> dict:
    """Parameters: ``incremental`` (default true). Result: see ``scenes.sync.run_sync``."""
    return run_sync(
        client_from_settings, progress, incremental=parameters.get("incremental", True)
    )
