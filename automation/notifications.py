"""Notifications: unattended work reaches a person through Apprise (ntfy, Discord, Telegram,
e-mail, webhooks, ... one URL each, in the secret setting ``notify_urls``).

Events, each sent once, when the job that causes it finishes (the runner's ``job_finished``
is sent once per job), and only if listed in ``notify_events``:
- ``job_failed``: a job failed (a workflow step's failure is told by its workflow);
- ``plan_ready_for_review``: an analysis left changes waiting for a person;
- ``budget_reached``: an analysis stopped at its AI budget;
- ``workflow_finished``: a workflow completed.
Messages are built from job rows, whose errors are already redacted, and redacted again
with every secret; Apprise itself only logs URLs with their secrets masked.
"""

import logging

import apprise

from jobs.models import Job, JobStatus
from settings_app import get_setting
from settings_app.secrets import SECRET_MASK, current_secrets, redact

logger = logging.getLogger("stashhog.notifications")

def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def events_of(job: Job) -> list[tuple[str, str, str]]:
    """The ``(event, title, body)`` a finished job gives rise to."""
    result = job.result or {}
    if job.status == JobStatus.FAILED and job.parent_id is None:
        return [("job_failed", f"StashHog: a {job.type} job failed",
                 f"{_first_line(job.error) or 'No reason recorded'} (job {job.id})")]
    if job.type == "analysis" and job.status == JobStatus.COMPLETED:
        events = []
        counts = result.get("counts", {})
        if result.get("outcome") == "budget_exceeded":
            events.append(("budget_reached", "StashHog: an analysis reached its AI budget",
                           result.get("message", "")))
        waiting = counts.get("changes", 0) - counts.get("auto_accepted", 0)
        if waiting > 0:
            events.append(("plan_ready_for_review",
                           f"StashHog: plan {result['plan_id']} is ready for review",
                           f"{waiting} proposed change(s) over {counts['scenes_with_changes']} "
                           f"scene(s) wait for review; {counts['auto_accepted']} were "
                           "accepted automatically."))
        return events
    if job.type == "workflow" and job.status == JobStatus.COMPLETED:
        steps = ", ".join(f"{name} {step['status']}" for name, step in result["steps"].items())
        return [("workflow_finished", "StashHog: the workflow finished",
                 f"{result.get('message', '')} ({steps})")]
    return []


def notify_job_finished(sender, job: Job, **kwargs) -> None:
    """``job_finished`` receiver: queue one message per wanted event of this job."""
    from automation.tasks import send_notification_task

    wanted = set(get_setting("notify_events"))
    for event, title, body in events_of(job):
        if event not in wanted or not get_setting("notify_urls"):
            continue
        try:
            send_notification_task.delay(event, title, body)
        except Exception as exc:  # the broker is down: the job's outcome stands anyway
            logger.warning("could not queue the %s notification: %s", event,
                           type(exc).__name__)


def send(title: str, body: str, urls: str | None = None) -> dict:
    """Send one message to every URL (default: the saved ``notify_urls``).

    ``{"success": true}``, or ``{"success": false, "error": <why, without secrets>}``."""
    urls = get_setting("notify_urls") if urls in (None, SECRET_MASK) else urls
    if not urls:
        return {"success": False, "error": "No notification URL is set (setting notify_urls)"}
    secrets = (*current_secrets(), *urls.split())
    notifier = apprise.Apprise()
    for url in urls.split():
        notifier.add(url)
    with apprise.LogCapture(level=logging.WARNING) as problems:
        sent = notifier.notify(title=redact(title, secrets), body=redact(body, secrets))
    if sent:
        return {"success": True}
    lines = [line.split(" - ", 2)[-1] for line in problems.getvalue().splitlines()]
    reason = redact(lines[-1] if lines else "Apprise could not send the message", secrets)
    logger.warning("notification %r not sent: %s", title, reason)
    return {"success": False, "error": reason}
