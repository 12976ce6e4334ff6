"""Request and response shapes of the analysis API. Requests validate here into the typed
values the services take; a proposed value is checked by its field (analysis.fields)."""

import django_filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from analysis.fields import SCENE_FIELDS, SceneField, Shape
from analysis.filters import PlanChangeFilterSet
from analysis.fingerprints import ONLY_CHOICES
from analysis.models import AnalysisPlan, ChangeField, PlanChange, Rejection
from analysis.options import AnalysisOptions
from analysis.plan_queries import COUNT_ANNOTATIONS
from analysis.review import BULK_STATUSES, REVIEW_STATUSES
from analysis.selection import SceneSelection
from analysis.sources import SOURCES
from scenes.filters import ID_PATTERN, IdListFilter, SceneFilterSet, StrictBooleanFilter
from scenes.selection import SceneFilters
from scenes.serializers import StashIdSerializer
from settings_app import get_setting
from settings_app.registry import REGISTRY
from stashhog.api.parsers import INT64_MAX
from stashhog.api.validation import (
    JSONBooleanField,
    JSONFloatField,
    JSONIntegerField,
    NoUnknownKeysMixin,
)


class ChangeEntitySerializer(serializers.Serializer):
    """A studio, performer or tag in a change's value (schema only)."""

    id = serializers.CharField(
        allow_null=True,
        help_text="The Stash id; null proposes an entity Stash does not have yet.")
    name = serializers.CharField()
    stash_ids = StashIdSerializer(
        many=True, required=False,
        help_text="A new entity found on a stash-box: its id there, which apply creates it "
        "with.")


class ProposedEntitySerializer(ChangeEntitySerializer):
    """An entity a review proposes: an existing one by id, or a new one by name (schema
    only)."""

    name = serializers.CharField(
        required=False, help_text="For a new entity (id null); an existing one's name comes "
        "from the library.")
    stash_ids = None  # type: ignore[assignment]  # set by stash-box proposals only


class ChangeValueField(serializers.JSONField):
    """A change's current or proposed value; its shape depends on the field."""


class ChangeValueFieldExtension(OpenApiSerializerFieldExtension):
    """The value's three shapes; the entity is a named component, so that generated
    clients read it into a model."""

    target_class = ChangeValueField

    def map_serializer_field(self, auto_schema, direction):
        entity_serializer = (
            ProposedEntitySerializer if direction == "request" else ChangeEntitySerializer)
        entity = auto_schema.resolve_serializer(entity_serializer, direction).ref
        stash_id = auto_schema.resolve_serializer(StashIdSerializer, direction).ref
        # OpenAPI 3.0 ignores ``nullable`` beside oneOf without a type: the string member
        # carries it too, so that null matches exactly one member.
        nullable = {"nullable": True} if self.target.allow_null else {}
        item = {"anyOf": [entity, stash_id, {"type": "string"}]}
        return {
            "oneOf": [entity, {"type": "array", "items": item}, {"type": "string", **nullable},
                      {"type": "integer", "minimum": 0, "maximum": 100},  # a rating
                      {"type": "boolean"}],
            **nullable,
            "description": "By field: " + "; ".join(
                f"{field.name} -> {_value_description(field)}"
                for field in SCENE_FIELDS.values()) + ".",
        }


def _value_description(field: SceneField) -> str:
    if field.shape == Shape.ENTITY:
        return "an entity (current may be null)"
    if field.shape == Shape.ENTITY_LIST:
        return "a list of entities"
    return field.value_hint


class StrategiesSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Per field, how a value a source found may replace what Stash holds. ``fill_blank``:
    only where Stash has no value (a list: an empty one), or a date more precise than the
    year or month it holds; ``overwrite`` (single values): a
    different value too; ``merge`` (lists): add what is missing; ``replace`` (lists): also
    remove what no source found. Default: fill_blank for single values, merge for lists."""

    def get_fields(self):
        return {str(field.name): serializers.ChoiceField(
                    choices=[str(strategy) for strategy in field.strategies], required=False,
                    help_text=f"Default {field.default_strategy.value}.")
                for field in SCENE_FIELDS.values()}


class AnalysisOptionsSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Every option is optional; omitted ones take the effective settings."""

    # Validates into AnalysisOptions (see ``validate``).

    strategies = StrategiesSerializer(required=False)
    include_rejected = JSONBooleanField(
        required=False, help_text="Propose again values a person rejected before (see GET "
        "/api/analysis/rejections). Default false.")
    set_organized = JSONBooleanField(
        required=False, help_text="When the plan is applied, mark organized each scene whose "
        "changes in it were all applied or rejected (none pending or failed, one applied). "
        "Default false.")

    create_missing = JSONBooleanField(
        required=False, help_text="Propose entities Stash lacks ({id: null, name}). Default: "
        "analysis_create_missing.")
    confidence_threshold = JSONFloatField(
        required=False, min_value=0, max_value=1,
        help_text="Proposals below it are dropped. Default: analysis_confidence_threshold.")
    auto_accept_threshold = JSONFloatField(
        required=False, allow_null=True, min_value=0, max_value=1,
        help_text="Proposals at or above it start accepted; null: off. Default: "
        "analysis_auto_accept_threshold.")
    max_cost_usd = JSONFloatField(
        required=False, min_value=0, max_value=REGISTRY["analysis_max_cost_usd"].maximum,
        help_text="The job stops before its AI cost would exceed this. Default and upper "
        "bound: the analysis_max_cost_usd setting (a larger value is a 400).")

    stashbox_endpoint = serializers.CharField(
        required=False, allow_null=True, max_length=2048,
        help_text="use_stashbox: the stash-box to identify with, by its endpoint as configured "
        "in Stash; default: the first one configured.")
    reidentify = JSONBooleanField(
        required=False, help_text="use_stashbox: also identify scenes already linked to the "
        "endpoint (a stash id for it). Default false.")

    skip_settled = JSONBooleanField(
        required=False, help_text="Ask the AI only for the fields that the path proposals do "
        "not already settle above the confidence threshold; a scene with none left is not "
        "sent. Default: analysis_skip_settled.")

    def validate_max_cost_usd(self, value: float) -> float:
        """The setting is a ceiling: a request may lower the budget, never raise it."""
        ceiling = get_setting("analysis_max_cost_usd")
        if value > ceiling:
            raise serializers.ValidationError(
                f"Must not exceed the analysis_max_cost_usd setting ({ceiling:g}).")
        return value

    def get_fields(self):
        """The declared options, then one switch per proposal source and per scene field."""
        return {
            **super().get_fields(),
            **{source.option: JSONBooleanField(required=False, help_text=source.option_help)
               for source in SOURCES.values()},
            **{field.option: JSONBooleanField(required=False, help_text=field.option_help)
               for field in SCENE_FIELDS.values()},
        }

    def validate(self, attrs) -> AnalysisOptions:
        options = AnalysisOptions.resolve(**attrs)
        if not options.detects_anything:
            raise serializers.ValidationError({"detectors": ["Enable at least one."]})
        if not options.sources:
            raise serializers.ValidationError({"sources": ["Enable at least one."]})
        return options


def _filter_field(scene_filter) -> serializers.Field:
    """The body field for one filter of a list, with the same rules."""
    help_text = scene_filter.extra.get("help_text") or ""
    if isinstance(scene_filter, IdListFilter):
        return serializers.ListField(
            child=serializers.RegexField(ID_PATTERN, error_messages={"invalid": "Not an id."}),
            required=False, help_text=help_text or "Scenes with ALL of them.")
    if isinstance(scene_filter, StrictBooleanFilter):
        return JSONBooleanField(required=False, allow_null=True, help_text=help_text)
    if isinstance(scene_filter, django_filters.DateFilter):
        return serializers.DateField(required=False, allow_null=True, help_text=help_text)
    if isinstance(scene_filter, django_filters.NumberFilter):
        return JSONFloatField(
            required=False, allow_null=True, help_text=help_text,
            min_value=scene_filter.extra.get("min_value"),
            max_value=scene_filter.extra.get("max_value"))
    if isinstance(scene_filter, django_filters.ChoiceFilter):
        return serializers.ChoiceField(choices=scene_filter.extra["choices"], required=False,
                                       allow_null=True, help_text=help_text)
    return serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                 help_text=help_text)


class FiltersBodySerializer(NoUnknownKeysMixin, serializers.Serializer):
    """A list's filters as a body object: fields built from its FilterSet, same rules."""

    filterset_class: type[django_filters.FilterSet]

    def get_fields(self):
        return {name: _filter_field(f) for name, f in self.filterset_class.base_filters.items()}


class SceneFiltersSerializer(FiltersBodySerializer):
    """The filters of ``GET /api/scenes``, as an object."""

    filterset_class = SceneFilterSet

    def to_internal_value(self, data) -> SceneFilters:
        return SceneFilters.from_values(super().to_internal_value(data))


class ChangeFiltersSerializer(FiltersBodySerializer):
    """The filters of ``GET /api/analysis/plans/{id}/changes``, as an object."""

    filterset_class = PlanChangeFilterSet

    def to_internal_value(self, data) -> dict:
        return {name: value for name, value in super().to_internal_value(data).items()
                if value is not None}


class GenerateRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    scene_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True,
        help_text="Scenes to analyse; with filters, those of them that match.")
    filters = SceneFiltersSerializer(required=False, allow_null=True)
    only = serializers.ChoiceField(
        choices=ONLY_CHOICES, required=False,
        help_text="all (default); unanalyzed: scenes never analysed; changed: new scenes, "
        "and scenes whose fields analysis reads changed since their last analysis (or that "
        "were analysed with other options, detector or model). Combines with scene_ids and "
        "filters.")
    options = AnalysisOptionsSerializer(required=False)
    plan_name = serializers.CharField(required=False, max_length=255)

    def validate(self, attrs) -> dict:
        """What ``request_analysis`` takes: a SceneSelection and AnalysisOptions."""
        return {
            "selection": SceneSelection.of(attrs.get("scene_ids"), attrs.get("filters"),
                                           attrs.get("only", "all")),
            "options": attrs.get("options") or AnalysisOptions.resolve(),
            "plan_name": attrs.get("plan_name"),
        }


class ReviewCountsSerializer(serializers.Serializer):
    """How many of the plan's changes are in each status (from ``plans_with_counts``)."""

    def get_fields(self):
        return {status.value: serializers.IntegerField(source=name)
                for status, name in COUNT_ANNOTATIONS.items()}


class PlanSerializer(serializers.ModelSerializer):
    """PlanResponse."""

    total_scenes = serializers.IntegerField(read_only=True)
    total_changes = serializers.IntegerField(read_only=True)
    review_counts = ReviewCountsSerializer(source="*", read_only=True)

    class Meta:
        model = AnalysisPlan
        fields = ["id", "name", "description", "status", "created_at", "total_scenes",
                  "total_changes", "review_counts", "metadata"]
        read_only_fields = fields


class PlanChangeSerializer(serializers.ModelSerializer):
    """PlanChangeResponse; ``error`` says why a failed change failed, ``conflict`` (revert
    plans) why it must not be applied blindly. ``scene_title`` falls back to the primary
    file's name; ``scene_path`` is null when the scene is no longer in the library."""

    scene_title = serializers.CharField()
    scene_path = serializers.CharField(allow_null=True)
    current_value = ChangeValueField(allow_null=True)
    proposed_value = ChangeValueField(allow_null=True)

    class Meta:
        model = PlanChange
        fields = ["id", "scene_id", "scene_title", "scene_path", "field", "action",
                  "current_value", "proposed_value", "confidence", "source", "reason",
                  "status", "error", "conflict"]
        read_only_fields = fields


class PlanSceneSerializer(serializers.Serializer):
    scene_id = serializers.CharField()
    scene_title = serializers.CharField(help_text="The title, or the primary file's name.")
    scene_path = serializers.CharField(allow_null=True, help_text="The primary file's path.")
    changes = PlanChangeSerializer(many=True)


class PlanDetailSerializer(PlanSerializer):
    """PlanDetailResponse: PlanResponse plus its changes grouped by scene (all scenes, or
    one page of them with ``page``/``per_page``)."""

    scenes = PlanSceneSerializer(many=True, read_only=True)

    class Meta(PlanSerializer.Meta):
        fields = PlanSerializer.Meta.fields + ["scenes"]
        read_only_fields = fields


class ChangeUpdateSerializer(NoUnknownKeysMixin, serializers.Serializer):
    proposed_value = ChangeValueField(
        required=False, allow_null=True,
        help_text="A studio is {id} or {id: null, name} for a new one; performers and tags a "
        "non-empty list of those; the other fields as the value "
        "describes (list fields: a non-empty list; null clears a date or a rating).")
    status = serializers.ChoiceField(choices=REVIEW_STATUSES, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send proposed_value, status or both.")
        return attrs


class BulkReviewSerializer(NoUnknownKeysMixin, serializers.Serializer):
    """Selectors combine (a change must match all given); none selects every change."""

    status = serializers.ChoiceField(choices=BULK_STATUSES)
    change_ids = serializers.ListField(
        child=JSONIntegerField(min_value=1, max_value=INT64_MAX), required=False)
    field = serializers.ChoiceField(choices=ChangeField.choices, required=False)
    min_confidence = JSONFloatField(required=False, min_value=0, max_value=1)
    scene_ids = serializers.ListField(child=serializers.CharField(), required=False)
    filters = ChangeFiltersSerializer(
        required=False, help_text="The filters of the changes list (``status`` there is the "
        "changes' current status).")


class PlanDetailQuerySerializer(serializers.Serializer):
    """Without either parameter the plan detail holds every scene."""

    page = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    per_page = serializers.IntegerField(min_value=1, max_value=500, required=False)


class SceneHistorySerializer(serializers.Serializer):
    """One applied change of a scene: what was written, when, by whom."""

    change_id = serializers.IntegerField(source="id")
    plan_id = serializers.IntegerField(source="plan.id")
    plan_name = serializers.CharField(source="plan.name")
    field = serializers.CharField()
    action = serializers.CharField()
    value_before = ChangeValueField(
        source="value_before_apply", allow_null=True,
        help_text="The field in Stash just before the apply (null if not recorded).")
    applied_value = ChangeValueField(source="proposed_value", allow_null=True)
    applied_at = serializers.DateTimeField()
    reviewed_by = serializers.CharField(source="reviewed_by.username", allow_null=True,
                                        help_text="Who accepted the change.")
    applied_by = serializers.CharField(source="applied_by.username", allow_null=True,
                                       help_text="Who started the apply job.")


class RejectionSerializer(serializers.ModelSerializer):
    """RejectionResponse: a value a person rejected for a scene's field and action, which
    later analyses do not propose again."""

    value = ChangeValueField(
        allow_null=True, help_text="In the shape of the rejected change's value: the set "
        "value, or a list of the one rejected item.")
    plan_id = serializers.IntegerField(source="change.plan_id", allow_null=True,
                                       help_text="The plan of the rejected change.")
    rejected_by = serializers.CharField(source="rejected_by.username", allow_null=True)

    class Meta:
        model = Rejection
        fields = ["id", "scene_id", "field", "action", "value", "change_id", "plan_id",
                  "rejected_by", "created_at"]
        read_only_fields = fields


class BulkReviewResultSerializer(serializers.Serializer):
    plan_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BULK_STATUSES)
    matched = serializers.IntegerField(help_text="Changes the selectors matched.")
    updated = serializers.IntegerField(help_text="Changes whose status changed.")
    unchanged = serializers.IntegerField(help_text="Matched changes already in that status.")
    skipped_applied = serializers.IntegerField(help_text="Applied changes, never touched.")
    skipped_conflicts = serializers.IntegerField(
        help_text="Revert changes marked as a conflict, which only an accept naming them by "
        "id takes.")
    plan_status = serializers.CharField()


class ApplyRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    scene_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True,
        help_text="Apply only these scenes' accepted changes (default: all accepted).")



class RevertRequestSerializer(NoUnknownKeysMixin, serializers.Serializer):
    scene_ids = serializers.ListField(
        child=serializers.CharField(), required=False, allow_null=True,
        help_text="Undo only these scenes' applied changes (default: all applied).")
