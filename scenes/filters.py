"""One FilterSet per model, each with explicit lookups. Invalid values are 400s."""

import re

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from scenes.models import Performer, Scene, Studio, Tag
from scenes.selection import SceneFilters, contains_lowered, filter_scenes
from stashhog.booleans import parse_bool

ID_PATTERN = r"^\d+$"  # Stash ids are integers
_ID = re.compile(ID_PATTERN)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or 1/0, yes/no, on/off); anything else is an error, not "no
    filter"."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return parse_bool(str(value))
        except ValueError:
            raise forms.ValidationError("Must be true or false.") from None


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
class IdListFilter(django_filters.Filter):
    field_class = IdListField


class SceneFilterSet(django_filters.FilterSet):
    """Validates the scene list's query parameters; ``filter_scenes`` applies them."""

    search = django_filters.CharFilter(help_text="Title, details or file path contain.")
    studio_id = django_filters.CharFilter()
    performer_ids = IdListFilter(help_text="Repeat or comma-separate; scenes with ALL of them.")
    tag_ids = IdListFilter(help_text="Repeat or comma-separate; scenes with ALL of them.")
    organized = StrictBooleanFilter()
    # ISO 8601 dates only, as the schema says (``format: date``), not Django's local forms.
    date_from = django_filters.DateFilter(input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD")
    date_to = django_filters.DateFilter(input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD")

    class Meta:
        model = Scene
        fields: list[str] = []

    def filter_queryset(self, queryset):
        return filter_scenes(SceneFilters.from_values(self.form.cleaned_data), queryset)


class EntityFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method=lambda queryset, _name, value: contains_lowered(queryset, "search_text", value),
        help_text="Name or an alias contains.",
    )


class PerformerFilterSet(EntityFilterSet):
    class Meta:
        model = Performer
        fields: list[str] = []


class TagFilterSet(EntityFilterSet):
    class Meta:
        model = Tag
        fields: list[str] = []


class StudioFilterSet(EntityFilterSet):
    class Meta:
        model = Studio
        fields: list[str] = []
