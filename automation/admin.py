"""Schedules in the Django admin: the same fields as the API, checked by the same
serializer, saved by the same service."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from automation.models import HookedScene, Schedule, ScheduleKind
from automation.schedules import delete_schedule, next_run_at, run_schedule, save_schedule
from automation.serializers import ScheduleSerializer, schedule_values
from stashhog.api.exceptions import StashHogException


class ScheduleForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=ScheduleKind.choices)
    parameters = forms.JSONField(required=False, initial=dict,
                                 help_text=ScheduleSerializer().fields["parameters"].help_text)
    crontab = forms.CharField(required=False, help_text='E.g. "*/30 * * * *".')
    timezone = forms.CharField(initial="UTC", help_text="IANA time zone of the crontab.")
    interval_seconds = forms.IntegerField(required=False, help_text="Or run every N seconds.")
    enabled = forms.BooleanField(required=False, initial=True)

    class Meta:
        model = Schedule
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for name, value in schedule_values(self.instance).items():
                self.initial[name] = value

    def clean(self):
        data = {**self.cleaned_data, "crontab": self.cleaned_data.get("crontab") or None}
        data["parameters"] = data.get("parameters") or {}
        serializer = ScheduleSerializer(self.instance if self.instance.pk else None, data=data)
        try:
            valid = serializer.is_valid()
        except StashHogException as exc:  # the parameters check of the schedule's kind
            raise ValidationError(f"{exc.message}: {exc.detail}") from None
        if not valid:
            for field, errors in serializer.errors.items():
                self.add_error(field if field in self.fields else None, errors)
        self.validated = serializer.validated_data if valid else None
        return self.cleaned_data


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["name", "kind", "timing", "enabled", "last_run_at", "next_run",
                    "last_outcome"]
    list_filter = ["kind"]
    readonly_fields = ["last_run_at", "next_run", "last_job", "last_outcome"]
    actions = ["run_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(
            "periodic_task__crontab", "periodic_task__interval", "last_job")

    @admin.display(description="When")
    def timing(self, schedule):
        values = schedule_values(schedule)
        if values["crontab"]:
            return f"{values['crontab']} ({values['timezone']})"
        return f"every {values['interval_seconds']} s"

    @admin.display(boolean=True)
    def enabled(self, schedule):
        return schedule.periodic_task.enabled

    @admin.display(description="Next run")
    def next_run(self, schedule):
        return next_run_at(schedule) if schedule.pk else None

    def save_model(self, request, obj, form, change):
        form.instance = save_schedule(obj if change else None, form.validated)

    def delete_model(self, request, obj):
        delete_schedule(obj)

    def delete_queryset(self, request, queryset):
        for schedule in queryset:
            delete_schedule(schedule)

    @admin.action(description="Run selected schedules now")
    def run_now(self, request, queryset):
        for schedule in queryset:
            try:
                job = run_schedule(schedule)
            except StashHogException as exc:
                self.message_user(request, f"{schedule}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, f"{schedule}: started {job.type} job {job.id}",
                                  messages.SUCCESS)


@admin.register(HookedScene)
class HookedSceneAdmin(admin.ModelAdmin):
    """Read-only: the scenes Stash reported that the next hook job will resync."""

    list_display = ["scene_id", "received_at"]
    readonly_fields = ["scene_id", "received_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
