import django_filters

from jobs.models import Job, JobStatus


class JobFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=JobStatus.choices)
    job_type = django_filters.CharFilter(field_name="type", lookup_expr="exact",
                                         help_text="Job type, e.g. ``sync``.")

    class Meta:
        model = Job
        fields = ["status", "job_type"]
