"""Request and response shapes of the analysis API. Requests validate here into the typed
values the services take; a proposed value is checked by its field (analysis.fields)."""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analysis.models import AnalysisPlan, ChangeField, PlanChange
from analysis.options import AnalysisOptions
from analysis.review import BULK_STATUSES, REVIEW_STATUSES
from analysis.selection import SceneSelection
from scenes.filters import ID_PATTERN, IdListFilter, SceneFilterSet, StrictBooleanFilter
from scenes.selection import SceneFilters

ENTITY_REF_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "nullable": True,
               "description": "The Stash id; null proposes an entity Stash does not have yet."},
        "name": {"type": "string"},
    },
    "required": ["id", "name"],
}
CHANGE_VALUE_SCHEMA = {
    "oneOf": [
        {**ENTITY_REF_SCHEMA, "title": "Studio (field studio, action set)"},
        {"type": "array", "items": ENTITY_REF_SCHEMA,
         "title": "Performers or tags (action add or remove)"},
        {"type": "string", "title": "Details (action set)"},
    ],
    "nullable": True,
    "description": "By field: studio -> {id, name} (current may be null); performers and "
    "tags -> a list of {id, name}; details -> a string.",
}


@extend_schema_field(CHANGE_VALUE_SCHEMA)
class ChangeValueField(serializers.JSONField):
    """A change's current or proposed value; its shape depends on the field."""


class NoUnknownKeysMixin:
    """Unknown keys are errors, not silently ignored (a typo must not widen a selection)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``: in a JSON body, "yes" or 1 is a mistake, not a flag."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class AnalysisOptionsSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Every option is optional; omitted ones take the effective settings."""

    # Validates into AnalysisOptions (see ``validate``).

    detect_studios = JSONBooleanField(required=False, help_text="Default true.")
    detect_performers = JSONBooleanField(required=False, help_text="Default true.")
    detect_tags = JSONBooleanField(required=False, help_text="Default true.")
    detect_details = JSONBooleanField(
        required=False, help_text="Propose plain-text details for details carrying HTML. "
        "Default true.")
    use_ai = JSONBooleanField(required=False, help_text="Default: analysis_use_ai.")
    create_missing = JSONBooleanField(
        required=False, help_text="Propose entities Stash lacks ({id: null, name}). Default: "
        "analysis_create_missing.")
    confidence_threshold = serializers.FloatField(
        required=False, min_value=0, max_value=1,
        help_text="Proposals below it are dropped. Default: analysis_confidence_threshold.")
    auto_accept_threshold = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=1,
        help_text="Proposals at or above it start accepted; null: off. Default: "
        "analysis_auto_accept_threshold.")
    max_cost_usd = serializers.FloatField(
        required=False, min_value=0,
        help_text="The job stops before its AI cost would exceed this. Default: "
        "analysis_max_cost_usd.")

    def validate(self, attrs) -> AnalysisOptions:
        options = AnalysisOptions.resolve(**attrs)
        if not options.detects_anything:
            raise serializers.ValidationError({"detectors": ["Enable at least one."]})
        return options


def _filter_field(scene_filter) -> serializers.Field:
    """The body field for one filter of the scene list, with the same rules."""
    help_text = scene_filter.extra.get("help_text") or ""
    if isinstance(scene_filter, IdListFilter):
        return serializers.ListField(
            child=serializers.RegexField(ID_PATTERN, error_messages={"invalid": "Not an id."}),
            required=False, help_text=help_text or "Scenes with ALL of them.")
    if isinstance(scene_filter, StrictBooleanFilter):
        return JSONBooleanField(required=False, allow_null=True, help_text=help_text)
    if isinstance(scene_filter, django_filters.DateFilter):
        return serializers.DateField(required=False, allow_null=True, help_text=help_text)
    return serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                 help_text=help_text)


class SceneFiltersSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """The filters of ``GET /api/scenes``, as an object (fields built from its FilterSet)."""

    # Validates into SceneFilters (see ``to_internal_value``).

    def get_fields(self):
        return {name: _filter_field(f) for name, f in SceneFilterSet.base_filters.items()}

    def to_internal_value(self, data) -> SceneFilters:
        return SceneFilters.from_values(super().to_internal_value(data))


class GenerateRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    scene_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True,
        help_text="Scenes to analyse; with filters, those of them that match.")
    filters = SceneFiltersSerializer(required=False, allow_null=True)
    options = AnalysisOptionsSerializer(required=False)
    plan_name = serializers.CharField(required=False, max_length=255)

    def validate(self, attrs) -> dict:
        """What ``request_analysis`` takes: a SceneSelection and AnalysisOptions."""
        return {
            "selection": SceneSelection.of(attrs.get("scene_ids"), attrs.get("filters")),
            "options": attrs.get("options") or AnalysisOptions.resolve(),
            "plan_name": attrs.get("plan_name"),
        }


class PlanSerializer(serializers.ModelSerializer):
    """PlanResponse."""

    total_scenes = serializers.IntegerField(read_only=True)
    total_changes = serializers.IntegerField(read_only=True)

    class Meta:
        model = AnalysisPlan
        fields = ["id", "name", "status", "created_at", "total_scenes", "total_changes",
                  "metadata"]
        read_only_fields = fields


class PlanChangeSerializer(serializers.ModelSerializer):
    """PlanChangeResponse; ``error`` says why a failed change failed."""

    current_value = ChangeValueField(allow_null=True)
    proposed_value = ChangeValueField(allow_null=True)

    class Meta:
        model = PlanChange
        fields = ["id", "field", "action", "current_value", "proposed_value", "confidence",
                  "source", "reason", "status", "error"]
        read_only_fields = fields


class PlanSceneSerializer(serializers.Serializer):
    scene_id = serializers.CharField()
    scene_title = serializers.CharField()
    changes = PlanChangeSerializer(many=True)


class PlanDetailSerializer(PlanSerializer):
    """PlanDetailResponse: PlanResponse plus its changes grouped by scene."""

    scenes = PlanSceneSerializer(many=True, read_only=True)

    class Meta(PlanSerializer.Meta):
        fields = PlanSerializer.Meta.fields + ["scenes"]
        read_only_fields = fields


class ChangeUpdateSerializer(NoUnknownKeysMixin, serializers.Serializer):
    proposed_value = ChangeValueField(
        required=False, help_text="A studio is {id} or {id: null, name} for a new one; "
        "performers and tags a non-empty list of those; details a string.")
    status = serializers.ChoiceField(choices=REVIEW_STATUSES, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send proposed_value, status or both.")
        return attrs


class BulkReviewSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Selectors combine (a change must match all given); none selects every change."""

    status = serializers.ChoiceField(choices=BULK_STATUSES)
    change_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    field = serializers.ChoiceField(choices=ChangeField.choices, required=False)
    min_confidence = serializers.FloatField(required=False, min_value=0, max_value=1)
    scene_ids = serializers.ListField(child=serializers.CharField(), required=False)


class BulkReviewResultSerializer(serializers.Serializer):
    plan_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BULK_STATUSES)
    matched = serializers.IntegerField(help_text="Changes the selectors matched.")
    updated = serializers.IntegerField(help_text="Changes whose status changed.")
    unchanged = serializers.IntegerField(help_text="Matched changes already in that status.")
    skipped_applied = serializers.IntegerField(help_text="Applied changes, never touched.")
    plan_status = serializers.CharField()


class ApplyRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    scene_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True,
        help_text="Apply only these scenes' accepted changes (default: all accepted).")

