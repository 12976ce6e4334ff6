from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from automation.hooks import HOOK_JOB, stash_hook_job
        from automation.workflow import WORKFLOW_JOB, workflow_job, workflow_key
        from jobs.runner import register_job_type

        register_job_type(WORKFLOW_JOB, workflow_job, exclusive_key=workflow_key)
        register_job_type(HOOK_JOB, stash_hook_job)
