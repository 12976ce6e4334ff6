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

