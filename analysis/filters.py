"""The FilterSets of the analysis API. The change filters select what the changes list shows,
what a bulk review touches and what the admin review screen shows: one definition for all."""

import django_filters
from django.db.models import Q

from analysis.models import (
    AnalysisPlan,
    ChangeAction,
    ChangeField,
    ChangeSource,
    ChangeStatus,
    PlanChange,
    PlanStatus,
    Rejection,
)
from scenes.models import SceneFile
from stashhog.api.exceptions import InvalidInput


class PlanFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices)

    class Meta:
        model = AnalysisPlan
        fields: list[str] = []


def _scene_title_or_path(queryset, _name, value):
    value = value.strip()
    if not value:
        return queryset
    in_path = SceneFile.objects.filter(path__icontains=value).values("scene_id")
    return queryset.filter(Q(scene_title__icontains=value) | Q(scene_id__in=in_path))


class PlanChangeFilterSet(django_filters.FilterSet):
    field = django_filters.ChoiceFilter(choices=ChangeField.choices)
    action = django_filters.ChoiceFilter(choices=ChangeAction.choices)
    status = django_filters.ChoiceFilter(choices=ChangeStatus.choices)
    source = django_filters.ChoiceFilter(choices=ChangeSource.choices)
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", min_value=0, max_value=1,
        help_text="Confidence at least this (0..1).")
    max_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="lte", min_value=0, max_value=1,
        help_text="Confidence at most this (0..1).")
    scene_id = django_filters.CharFilter(field_name="scene_id", lookup_expr="exact")
    search = django_filters.CharFilter(method=_scene_title_or_path,
                                       help_text="Scene title or file path contains.")

    class Meta:
        model = PlanChange
        fields: list[str] = []


class RejectionFilterSet(django_filters.FilterSet):
    scene_id = django_filters.CharFilter(field_name="scene_id", lookup_expr="exact")
    field = django_filters.ChoiceFilter(choices=ChangeField.choices)
    action = django_filters.ChoiceFilter(choices=ChangeAction.choices)

    class Meta:
        model = Rejection
        fields: list[str] = []


def filter_changes(changes, filters: dict):
    """``changes`` narrowed by ``filters`` (PlanChangeFilterSet's names), or InvalidInput."""
    filterset = PlanChangeFilterSet(filters, queryset=changes)
    if not filterset.is_valid():
        raise InvalidInput("Invalid input", detail={"filters": filterset.errors})
    return filterset.qs
