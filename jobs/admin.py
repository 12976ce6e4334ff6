from django.contrib import admin, messages

from jobs import runner
from jobs.models import Job, JobLock
from stashhog.api.exceptions import StashHogException


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Read-only: jobs change state only through the runner (the cancel action too)."""

    list_display = ["id", "type", "status", "progress", "created_at", "completed_at", "worker"]
    list_filter = ["type", "status"]
    search_fields = ["id", "message"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("jobs.change_job")

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        for job in queryset:
            try:
                runner.cancel_job(job.id)
                cancelled += 1
            except StashHogException as exc:
                self.message_user(request, f"{job}: {exc.message}", messages.WARNING)
        if cancelled:
            self.message_user(request, f"Asked {cancelled} job(s) to cancel.", messages.SUCCESS)


@admin.register(JobLock)
class JobLockAdmin(admin.ModelAdmin):
    """Read-only: which active job holds which lock (an apply holds its scenes while it
    writes them); locks go with their job."""

    list_display = ["key", "job", "acquired_at"]
    search_fields = ["key"]
    list_select_related = ["job"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
