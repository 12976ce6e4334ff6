from tests.jobs import demo_jobs  # noqa: F401 - registers the test-only job types
