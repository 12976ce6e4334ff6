from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from automation.hooks import HOOK_JOB, stash_hook_job
        from automation.notifications import notify_job_finished
        from automation.workflow import WORKFLOW_JOB, workflow_job, workflow_key
        from jobs.models import Job
        from jobs.runner import register_job_type
        from jobs.signals import job_finished

        register_job_type(WORKFLOW_JOB, workflow_job, exclusive_key=workflow_key)
        register_job_type(HOOK_JOB, stash_hook_job)
        job_finished.connect(notify_job_finished, sender=Job, dispatch_uid="automation.notify")
