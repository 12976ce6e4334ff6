"""The job monitor in headless Chromium (Debian's /usr/bin/chromium) against daphne and a
real worker: log in, watch a demo job's progress bar advance live, see it complete."""

import re

import pytest

from jobs.runner import start_job
from tests.e2e_support import TIMEOUT_MS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def e2e_imports():
    return ["tests.jobs.demo_jobs"]


def test_monitor_shows_a_job_progress_live_until_completed(browser, celery_worker,
                                                           daphne_server, live_celery,
                                                           api_token):
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{daphne_server.base_url}/jobs/")
    assert "/api-auth/login/" in page.url  # login required, back to /jobs/ after
    page.fill("#id_username", "tester")
    page.fill("#id_password", "secret-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{daphne_server.base_url}/jobs/")
    page.wait_for_selector("#connection[data-state=live]")

    job = start_job("demo.count", {"n": 16, "delay": 0.25})
    row = page.locator(f'tr[data-job-id="{job.id}"]')
    bar = row.locator("[role=progressbar]")
    widths: list[int] = []

    def bar_value_above(previous: int) -> int:
        page.wait_for_function(
            "([sel, prev]) => Number(document.querySelector(sel)?.getAttribute("
            "'aria-valuenow')) > prev",
            arg=[f'tr[data-job-id="{job.id}"] [role=progressbar]', previous],
        )
        return int(bar.get_attribute("aria-valuenow"))

    widths.append(bar_value_above(0))
    widths.append(bar_value_above(widths[-1]))  # it moves again while the job runs
    assert widths[0] < 100, "the first value seen should be mid-run"
    row.locator('.status[data-status="completed"]').wait_for()
    assert row.locator(".status").inner_text() == "completed"
    assert bar.get_attribute("aria-valuenow") == "100"
    assert row.locator(".cancel").is_hidden()
    page.close()


def test_pages_work_under_the_content_security_policy(browser, daphne_server,
                                                      django_user_model):
    """Chromium enforces the policy: the admin, the monitor and both API docs render, and
    nothing of this server's own was refused (a refusal is logged to the console). The one
    refusal allowed is of another site: ReDoc's bundle shows a logo from its CDN."""
    django_user_model.objects.create_superuser("boss", password="boss-password")
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{daphne_server.base_url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "boss-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{daphne_server.base_url}/admin/")
    for path, rendered in [("/admin/jobs/job/", "#changelist"),
                           ("/jobs/", "#connection[data-state=live]"),
                           ("/api/docs", ".swagger-ui .info"),
                           ("/api/redoc", ".api-content h1")]:
        page.goto(f"{daphne_server.base_url}{path}")
        page.wait_for_selector(rendered)
    page.close()
    own = [text for text in refused if not re.search(r"'https?://(?!127\.0\.0\.1)", text)]
    assert own == []
