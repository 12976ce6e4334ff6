from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.api import BackgroundQuerySerializer
from scenes import dates
from scenes.entities import PERFORMERS, STUDIOS, TAGS
from scenes.models import FILE_FIELDS, Scene, SceneFile
from stashhog.api.representation import iso_datetime


class EntityRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class StashIdSerializer(serializers.Serializer):
    """An entity's or scene's id on a stash-box."""

    endpoint = serializers.CharField(help_text="The stash-box's GraphQL endpoint.")
    stash_id = serializers.CharField()


class SceneFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = SceneFile
        fields = list(FILE_FIELDS)
        read_only_fields = fields


class SceneSerializer(serializers.ModelSerializer):
    """SceneResponse."""

    # For rows of ``scenes.queries.scene_rows`` (``attach_related`` applied).

    paths = serializers.SerializerMethodField()
    studio = EntityRefSerializer(allow_null=True, read_only=True)
    performers = EntityRefSerializer(many=True, read_only=True)
    tags = EntityRefSerializer(many=True, read_only=True)
    files = SceneFileSerializer(many=True, read_only=True)
    urls = serializers.ListField(child=serializers.CharField(), read_only=True)
    rating = serializers.IntegerField(allow_null=True, min_value=0, max_value=100,
                                      read_only=True, help_text="Stash's rating100")
    stash_ids = StashIdSerializer(many=True, read_only=True)
    scene_date = serializers.RegexField(
        dates.PATTERN, allow_null=True, read_only=True,
        help_text='Stash\'s date: "YYYY-MM-DD", or "YYYY-MM" / "YYYY" when Stash knows only '
                  "the month or the year")

    class Meta:
        model = Scene
        fields = ["id", "title", "paths", "organized", "details", "code", "urls", "rating",
                  "stash_ids", "created_date", "scene_date", "studio", "performers", "tags",
                  "last_synced", "files"]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_paths(self, scene: dict) -> list[str]:
        """File paths, primary first."""
        return [file["path"] for file in scene["file_rows"]]

    def to_representation(self, scene: dict) -> dict:
        """The declared fields, built directly: DRF's field-by-field walk over nested
        serializers costs more than the whole query work of a 100-scene page."""
        zone = timezone.get_current_timezone()
        return {
            "id": scene["id"],
            "title": scene["title"],
            "paths": self.get_paths(scene),
            "organized": scene["organized"],
            "details": scene["details"],
            "code": scene["code"],
            "urls": scene["urls"],
            "rating": scene["rating"],
            "stash_ids": scene["stash_ids"],
            "created_date": iso_datetime(scene["created_date"], zone),
            "scene_date": scene["scene_date"],
            "studio": next(iter(scene["entity_refs"][STUDIOS.field]), None),
            "performers": scene["entity_refs"][PERFORMERS.field],
            "tags": scene["entity_refs"][TAGS.field],
            "last_synced": iso_datetime(scene["last_synced"], zone),
            "files": scene["file_rows"],
        }


class EntitySerializer(serializers.Serializer):
    """A performer, tag or studio with how many local scenes use it."""

    id = serializers.CharField()
    name = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    scene_count = serializers.IntegerField()


class SyncRequestSerializer(serializers.Serializer):
    """What a sync is asked to do (also a sync schedule's parameters)."""

    incremental = serializers.BooleanField(default=True)


class SyncQuerySerializer(BackgroundQuerySerializer, SyncRequestSerializer):
    pass


class SyncCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    removed = serializers.IntegerField()


class SyncResultSerializer(serializers.Serializer):
    """What a sync job returns (its result)."""

    incremental = serializers.BooleanField(help_text="False when the whole library was read.")
    scenes = SyncCountsSerializer()
    tags = SyncCountsSerializer()
    performers = SyncCountsSerializer()
    studios = SyncCountsSerializer()
    deletions_skipped = serializers.CharField(
        allow_null=True,
        help_text="Why no scene was removed although a full sync ran (it saw a different "
        "number of scenes than Stash counted at the start); null when deletions were applied.",
    )
    duration_seconds = serializers.FloatField()
