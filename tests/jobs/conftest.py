import pytest

from tests.e2e_support import (  # noqa: F401 - fixtures
    api_token,
    celery_worker,
    daphne_server,
    e2e_env,
    e2e_imports,
    live_celery,
    live_channel_layer,
)
from tests.jobs import demo_jobs  # noqa: F401 - registers the test-only job types


@pytest.fixture
def heartbeat_timeout(db):
    """Set job_heartbeat_timeout_seconds through the settings table."""
    from settings_app.registry import save_settings

    def set_timeout(seconds: int):
        save_settings({"job_heartbeat_timeout_seconds": seconds})

    return set_timeout
