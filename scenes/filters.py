"""One FilterSet per model, each with explicit lookups. Invalid values are 400s."""

import re

import django_filters
from django import forms
from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from scenes.entities import PERFORMERS, TAGS, EntityKind
from scenes.models import Performer, Scene, Studio, Tag

_ID = re.compile(r"^\d+$")
TRUE_VALUES = ("true", "1")
FALSE_VALUES = ("false", "0")


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or 1/0); anything else is an error, not "no filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise forms.ValidationError("Must be true or false.")


class RepeatedOrCommaWidget(forms.Widget):
    """Reads ``?x=1&x=2``, ``?x=1,2`` and mixes of both as one list."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return [part.strip() for value in values if value for part in value.split(",")]


class IdListField(forms.Field):
    widget = RepeatedOrCommaWidget

    def to_python(self, value):
        ids = [item for item in value or () if item]
        bad = [item for item in ids if not _ID.match(item)]
        if bad:
            raise forms.ValidationError(f"Not an id: {', '.join(bad[:5])}.")
        return list(dict.fromkeys(ids))


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class AllIdsFilter(django_filters.Filter):
    """Scenes related to ALL the given ids (one subquery on the through table, no joins,
    so counting the page stays a count over scene ids)."""

    field_class = IdListField

    def __init__(self, *args, kind: EntityKind, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def filter(self, queryset, value):
        if not value:
            return queryset
        column = self.kind.column
        matching = (
            self.kind.link.objects.filter(**{f"{column}__in": value})
            .values("scene_id")
            .annotate(matched=Count(column))
            .filter(matched=len(value))
            .values("scene_id")
        )
        return queryset.filter(id__in=matching)


def lowered_contains(field: str):
    """``search`` on a column sync keeps lower-cased: a plain LIKE that a trigram index on
    PostgreSQL can serve (icontains would wrap the column in UPPER())."""

    def search(queryset, _name, value):
        value = value.strip().lower()
        return queryset.filter(**{f"{field}__contains": value}) if value else queryset

    return search


class SceneFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method=lowered_contains("search_text"), help_text="Title, details or file path contain."
    )
    studio_id = django_filters.CharFilter(field_name="studio_id", lookup_expr="exact")
    performer_ids = AllIdsFilter(
        kind=PERFORMERS,
        help_text="Repeat or comma-separate; scenes with ALL of them.",
    )
    tag_ids = AllIdsFilter(
        kind=TAGS,
        help_text="Repeat or comma-separate; scenes with ALL of them.",
    )
    organized = StrictBooleanFilter(field_name="organized", lookup_expr="exact")
    date_from = django_filters.DateFilter(field_name="scene_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="scene_date", lookup_expr="lte")

    class Meta:
        model = Scene
        fields = []


class EntityFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method=lowered_contains("search_text"), help_text="Name or an alias contains."
    )


class PerformerFilterSet(EntityFilterSet):
    class Meta:
        model = Performer
        fields = []


class TagFilterSet(EntityFilterSet):
    class Meta:
        model = Tag
        fields = []


class StudioFilterSet(EntityFilterSet):
    class Meta:
        model = Studio
        fields = []
